/**
 * Shared fixtures of the access-control tests: a storage wrapper that records every call with the
 * repository it names (to prove refusals never reach storage), a seeded world, and the policy.
 */
import { createRegistry } from "../../lib/registry.ts";
import { memoryStorage } from "../../lib/storage/memory.ts";
import type { FullStorage, Storage } from "../../lib/storage/types.ts";
import { createSeeder } from "../../lib/testing/seed.ts";
import type { SeededImage } from "../../lib/testing/seed_types.ts";

/** The policy of the tests. */
export const POLICY = {
  admins: ["root"],
  repositories: [
    { match: "public/**", anonymous: ["pull"], users: { "*": ["pull"] } },
    { match: "team/**", users: { alice: ["pull", "push", "delete"], bob: ["pull"] } },
    { match: "alice/**", users: { alice: ["pull", "push", "delete"] } },
    { match: "bob/**", users: { bob: ["pull", "push", "delete"] } },
  ],
} as const;

/** Users and passwords of the tests. */
export const USERS = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw", root: "root-pw" };

/** A Basic Authorization header. */
export function basicHeader(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${btoa(`${user}:${password}`)}` };
}

/** A storage that records `[store.method, repository]` of every call. */
export function countingStorage(inner: FullStorage): { storage: FullStorage; calls: string[][] } {
  const calls: string[][] = [];
  const wrap = <T extends object>(store: T, label: string): T =>
    new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push([`${label}.${String(key)}`, typeof args[0] === "string" ? args[0] : ""]);
          return value.apply(target, args);
        };
      },
    });
  const storage: FullStorage = {
    blobs: wrap(inner.blobs, "blobs"),
    uploads: wrap(inner.uploads, "uploads"),
    manifests: wrap(inner.manifests, "manifests"),
    tags: wrap(inner.tags, "tags"),
    repositories: (options) => {
      calls.push(["repositories", ""]);
      return inner.repositories(options);
    },
  };
  return { storage, calls };
}

/** A seeded world: images in several repositories and one open upload session per repository. */
export interface World {
  storage: Storage;
  calls: string[][];
  images: Record<string, SeededImage>;
  uploads: Record<string, string>;
}

/** Seed `team/app`, `alice/x`, `bob/y`, `public/p` through a registry without access control. */
export async function seedWorld(): Promise<World> {
  const inner = memoryStorage();
  const plain = createRegistry({ storage: inner });
  const seed = createSeeder(plain);
  const images: Record<string, SeededImage> = {};
  const uploads: Record<string, string> = {};
  for (const repo of ["team/app", "alice/x", "bob/y", "public/p"]) {
    images[repo] = await seed.image(repo, { tag: "latest", layers: [`layer of ${repo}`] });
    uploads[repo] = (await inner.uploads.create(repo, { algorithm: "sha256" })).id;
  }
  const { storage, calls } = countingStorage(inner);
  return { storage, calls, images, uploads };
}

/** One request of the route table. */
export interface RouteCase {
  /** Label. */
  label: string;
  /** Method. */
  method: string;
  /** Path for a repository. */
  path: (repo: string, world: World) => string;
  /** The action it needs. */
  action: "pull" | "push" | "delete";
  /** A body, if any. */
  body?: (repo: string, world: World) => BodyInit;
  /** Headers beyond the credentials. */
  headers?: Record<string, string>;
  /** The status an allowed caller gets (undefined: anything but 401/403). */
  allowed?: number;
}

/** Every route and method with a repository. */
export const ROUTES: RouteCase[] = [
  {
    label: "GET manifest",
    method: "GET",
    path: (r) => `/v2/${r}/manifests/latest`,
    action: "pull",
    allowed: 200,
  },
  {
    label: "HEAD manifest",
    method: "HEAD",
    path: (r) => `/v2/${r}/manifests/latest`,
    action: "pull",
    allowed: 200,
  },
  {
    label: "GET blob",
    method: "GET",
    path: (r, w) => `/v2/${r}/blobs/${w.images[r].layers[0].digest}`,
    action: "pull",
    allowed: 200,
  },
  {
    label: "HEAD blob",
    method: "HEAD",
    path: (r, w) => `/v2/${r}/blobs/${w.images[r].layers[0].digest}`,
    action: "pull",
    allowed: 200,
  },
  {
    label: "GET tags",
    method: "GET",
    path: (r) => `/v2/${r}/tags/list`,
    action: "pull",
    allowed: 200,
  },
  {
    label: "GET referrers",
    method: "GET",
    path: (r, w) => `/v2/${r}/referrers/${w.images[r].digest}`,
    action: "pull",
    allowed: 200,
  },
  {
    label: "GET upload",
    method: "GET",
    path: (r, w) => `/v2/${r}/blobs/uploads/${w.uploads[r]}`,
    action: "pull",
    allowed: 204,
  },
  {
    label: "HEAD upload",
    method: "HEAD",
    path: (r, w) => `/v2/${r}/blobs/uploads/${w.uploads[r]}`,
    action: "pull",
    allowed: 204,
  },
  {
    label: "POST upload",
    method: "POST",
    path: (r) => `/v2/${r}/blobs/uploads/`,
    action: "push",
    allowed: 202,
  },
  {
    label: "PATCH upload",
    method: "PATCH",
    path: (r, w) => `/v2/${r}/blobs/uploads/${w.uploads[r]}`,
    action: "push",
    body: () => "",
    headers: { "Content-Type": "application/octet-stream" },
    allowed: 202,
  },
  {
    label: "PUT upload",
    method: "PUT",
    path: (r, w) => `/v2/${r}/blobs/uploads/${w.uploads[r]}?digest=sha256:${"0".repeat(64)}`,
    action: "push",
  },
  {
    label: "DELETE upload",
    method: "DELETE",
    path: (r) => `/v2/${r}/blobs/uploads/nosuchsession`,
    action: "push",
    allowed: 404,
  },
  {
    label: "PUT manifest",
    method: "PUT",
    path: (r) => `/v2/${r}/manifests/other`,
    action: "push",
    body: (r, w) => w.images[r].bytes as BodyInit,
    headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
    allowed: 201,
  },
  {
    label: "DELETE blob",
    method: "DELETE",
    path: (r) => `/v2/${r}/blobs/sha256:${"1".repeat(64)}`,
    action: "delete",
    allowed: 404,
  },
  {
    label: "DELETE manifest",
    method: "DELETE",
    path: (r) => `/v2/${r}/manifests/sha256:${"2".repeat(64)}`,
    action: "delete",
    allowed: 404,
  },
];

/** Build a Request for the in-process registry. */
export function request(
  route: RouteCase,
  repo: string,
  world: World,
  auth: Record<string, string> = {},
): Request {
  return new Request(`http://registry.test${route.path(repo, world)}`, {
    method: route.method,
    headers: { ...route.headers, ...auth },
    body: route.body?.(repo, world),
  });
}

/** The calls since `mark` that name a repository. */
export function repoCalls(world: World, mark: number): string[][] {
  return world.calls.slice(mark).filter(([, repo]) => repo !== "");
}
