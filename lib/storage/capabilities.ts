/**
 * The optional capabilities of the storage contract (lib/storage/types.ts), found once from the
 * members an adapter has, as go-containerregistry discovers its optional interfaces. This is the
 * only module that inspects which members an adapter provides; the registry builds its routes and
 * `Allow` headers from the answer.
 *
 * @module
 */
import type { Storage } from "./types.ts";

/** An optional capability of the storage contract. */
export type CapabilityName =
  | "push"
  | "mount"
  | "delete"
  | "referrers"
  | "catalog"
  | "purge"
  | "gc";

/** What an adapter provides (or a registry serves): one flag per optional capability. */
export interface StorageCapabilities {
  /** Upload sessions, manifest PUT and tagging: `uploads`, `manifests.put`, `tags.set`. */
  push: boolean;
  /** Cross-repository mount: `blobs.link`. */
  mount: boolean;
  /** DELETE of manifests, tags and blobs: `manifests.delete`, `tags.delete`, `blobs.unlink`. */
  delete: boolean;
  /** The referrers API: `manifests.referrers`. */
  referrers: boolean;
  /** `GET /v2/_catalog`: `repositories`. */
  catalog: boolean;
  /** Purging expired upload sessions: `uploads.purge`. */
  purge: boolean;
  /**
   * Garbage collection (lib/gc): enumeration, touch, content removal and a lease; needs catalog
   * and delete.
   */
  gc: boolean;
}

/** Every optional capability, in the order of the design table. */
export const CAPABILITY_NAMES: readonly CapabilityName[] = [
  "push",
  "mount",
  "delete",
  "referrers",
  "catalog",
  "purge",
  "gc",
];

/** The members each capability covers, as `store.member` paths, all or none present. */
export const CAPABILITY_MEMBERS: Readonly<Record<CapabilityName, readonly string[]>> = {
  push: [
    "uploads",
    "uploads.create",
    "uploads.get",
    "uploads.append",
    "uploads.read",
    "uploads.commit",
    "uploads.cancel",
    "manifests.put",
    "tags.set",
  ],
  mount: ["blobs.link"],
  delete: ["manifests.delete", "tags.delete", "blobs.unlink"],
  referrers: ["manifests.referrers"],
  catalog: ["repositories"],
  purge: ["uploads.purge"],
  gc: [
    "manifests.list",
    "blobs.links",
    "blobs.owners",
    "blobs.list",
    "blobs.touch",
    "blobs.remove",
    "blobs.lease",
  ],
};

/** The members every adapter must have. */
export const REQUIRED_MEMBERS: readonly string[] = [
  "blobs.stat",
  "blobs.read",
  "manifests.get",
  "tags.get",
  "tags.list",
];

/** The members an upload store must have when it is there (`purge` is a capability of its own). */
const UPLOAD_MEMBERS: readonly string[] = [
  "uploads.create",
  "uploads.get",
  "uploads.append",
  "uploads.read",
  "uploads.commit",
  "uploads.cancel",
];

/** The member of `storage` at `path` (`"blobs.link"`), or `undefined`. */
function member(storage: Storage, path: string): unknown {
  let value: unknown = storage;
  for (const key of path.split(".")) {
    if (value === undefined || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value ?? undefined;
}

/** The stores among the members: objects, where every other member is a function. */
const STORES = new Set(["blobs", "uploads", "manifests", "tags"]);

/**
 * Whether `storage` has the member at `path` (`"uploads"`, `"blobs.link"`, …): a function, or for
 * a store, an object.
 *
 * @example
 * ```ts
 * hasMember(storage, "blobs.link"); // true when the adapter can mount
 * ```
 */
export function hasMember(storage: Storage, path: string): boolean {
  const value = member(storage, path);
  return STORES.has(path)
    ? typeof value === "object" && value !== null
    : typeof value === "function";
}

/**
 * The optional capabilities `storage` provides. Throws a TypeError naming the member when a
 * required member is missing, or when a capability is only partly present (say `tags.delete`
 * without `manifests.delete`).
 *
 * @example
 * ```ts
 * capabilitiesOf(memoryStorage()); // every capability true
 * capabilitiesOf({ blobs: { stat, read }, manifests: { get }, tags: { get, list } });
 * // { push: false, mount: false, delete: false, referrers: false, catalog: false, purge: false,
 * //   gc: false }
 * ```
 */
export function capabilitiesOf(storage: Storage): StorageCapabilities {
  for (const path of REQUIRED_MEMBERS) {
    if (!hasMember(storage, path)) {
      throw new TypeError(`storage adapter lacks the required member ${path}`);
    }
  }
  const found = {} as StorageCapabilities;
  for (const name of CAPABILITY_NAMES) {
    const members = CAPABILITY_MEMBERS[name];
    const missing = members.filter((path) => !hasMember(storage, path));
    if (missing.length > 0 && missing.length < members.length) {
      throw new TypeError(
        `storage adapter provides part of the ${name} capability: ${missing[0]} is missing`,
      );
    }
    found[name] = missing.length === 0;
  }
  // The upload store's own members come with it, all or none.
  if (found.push) {
    for (const path of UPLOAD_MEMBERS) {
      if (!hasMember(storage, path)) {
        throw new TypeError(
          `storage adapter provides part of the push capability: ${path} is missing`,
        );
      }
    }
  }
  // Garbage collection also lists repositories and unlinks: without them it is not there.
  found.gc = found.gc && found.catalog && found.delete;
  return found;
}

/** Registry options that can switch capabilities off. */
export interface CapabilitySwitches {
  /** `deletion: false` turns delete off. */
  deletion: boolean;
  /** `referrers: false` turns referrers off. */
  referrers: boolean;
  /** `readOnly: true` turns push, mount, delete and purge off. */
  readOnly: boolean;
}

/**
 * What a registry serves: the adapter's capabilities, narrowed by its options (an option can
 * only take a capability away). Mount and purge need push.
 *
 * @example
 * ```ts
 * servedCapabilities(capabilitiesOf(storage), { deletion: false, referrers: true, readOnly: false });
 * ```
 */
export function servedCapabilities(
  provided: StorageCapabilities,
  switches: CapabilitySwitches,
): StorageCapabilities {
  const push = provided.push && !switches.readOnly;
  return {
    push,
    mount: provided.mount && push,
    delete: provided.delete && switches.deletion && !switches.readOnly,
    referrers: provided.referrers && switches.referrers,
    catalog: provided.catalog,
    purge: provided.purge && push,
    gc: provided.gc,
  };
}
