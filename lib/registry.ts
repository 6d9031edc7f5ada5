/**
 * `createRegistry`: the whole OCI Distribution protocol as one Web-standard fetch handler over a
 * storage adapter.
 *
 * @module
 */
import type { RegistryAuth } from "./auth/guard.ts";
import { visibleRepositories } from "./auth/catalog_view.ts";
import type { RegistrySettings, RequestContext, RouteHandler } from "./context.ts";
import { errorResponse, RegistryError } from "./errors.ts";
import { UploadHashCache } from "./hashing.ts";
import { API_VERSION_HEADERS, json } from "./responses.ts";
import { createRouter, type RouteName } from "./router.ts";
import { deleteBlob, getBlob } from "./routes/blobs.ts";
import { listCatalog, listTags } from "./routes/listing.ts";
import { deleteManifest, getManifest, putManifest } from "./routes/manifests.ts";
import { requireName } from "./routes/params.ts";
import { listReferrers } from "./routes/referrers.ts";
import { cancelUpload, getUpload, patchUpload, putUpload, startUpload } from "./routes/uploads.ts";
import type { RequestObserver } from "./observe/outcome.ts";
import {
  capabilitiesOf,
  type CapabilityName,
  servedCapabilities,
  type StorageCapabilities,
} from "./storage/capabilities.ts";
import { memoryStorage } from "./storage/memory.ts";
import type { Storage } from "./storage/types.ts";
import { createUrlBuilder } from "./url_builder.ts";

/** Receives what the handler cannot answer on its own. */
export interface RegistryLogger {
  /** An unexpected failure, answered with a 500 that shows no internals. */
  error?(error: unknown, request?: Request): void;
}

/** Options of {@link createRegistry}. */
export interface RegistryOptions {
  /** The storage adapter. Default: a new {@link memoryStorage}. */
  storage?: Storage;
  /**
   * Allow DELETE of manifests, tags and blobs (else 405 UNSUPPORTED). Default true; only takes
   * effect when the storage provides the delete capability.
   */
  deletion?: boolean;
  /**
   * Serve the referrers API and answer `OCI-Subject` (else 404). Default true; only takes effect
   * when the storage provides the referrers capability.
   */
  referrers?: boolean;
  /** Accept indexes whose children are not in the repository. Default false. */
  sparseIndexes?: boolean;
  /** Refuse every write with 405 UNSUPPORTED. Default false. */
  readOnly?: boolean;
  /** Largest manifest accepted, in bytes (413 above). Default 4 MiB. */
  maxManifestSize?: number;
  /** Mount prefix of every Location and Link (e.g. `/registry`). Default "". */
  basePath?: string;
  /**
   * Upload sessions created longer ago than this are unknown (404 BLOB_UPLOAD_UNKNOWN), and purged
   * now and then when the storage can purge. The handler alone owns expiry. Default 24 hours.
   */
  uploadTtlMs?: number;
  /** Where unexpected failures are reported. Default: console.error. */
  logger?: RegistryLogger;
  /**
   * Told about every request once it is answered: route, repository, and what a successful push,
   * pull, delete or mount touched (see `lib/observe/events.ts`). Default: none.
   */
  observer?: RequestObserver;
  /**
   * Access control: `basicAuth(...)`, `tokenAuth(...)` or `externalTokenAuth(...)`. Default: none
   * (anyone may do everything).
   */
  auth?: RegistryAuth;
}

/** A registry: a fetch handler and the storage it serves. */
export interface Registry {
  /** Answer one request. Never throws; every failure is an OCI error response. */
  fetch(request: Request): Promise<Response>;
  /** The storage adapter in use. */
  readonly storage: Storage;
}

type Method = string;
/** What dispatch learned about a request, for the observer. */
interface Seen {
  route: RouteName | undefined;
  repository: string;
  ctx: RequestContext | undefined;
  actor: string | undefined;
}
/** A route's handler for one method and the storage capability it needs, if any. */
type Endpoint = [handler: RouteHandler, needs?: CapabilityName];
const ENDPOINTS: Record<RouteName, Partial<Record<Method, Endpoint>>> = {
  base: {},
  catalog: { GET: [listCatalog, "catalog"], HEAD: [listCatalog, "catalog"] },
  uploads: { POST: [startUpload, "push"] },
  upload: {
    GET: [getUpload, "push"],
    HEAD: [getUpload, "push"],
    PATCH: [patchUpload, "push"],
    PUT: [putUpload, "push"],
    DELETE: [cancelUpload, "push"],
  },
  blob: { GET: [getBlob], HEAD: [getBlob], DELETE: [deleteBlob, "delete"] },
  manifest: {
    GET: [getManifest],
    HEAD: [getManifest],
    PUT: [putManifest, "push"],
    DELETE: [deleteManifest, "delete"],
  },
  tags: { GET: [listTags], HEAD: [listTags] },
  referrers: { GET: [listReferrers], HEAD: [listReferrers] },
  token: {},
};

/** Why a method is refused when the storage lacks the capability it needs. */
const LACKING: Partial<Record<CapabilityName, string>> = {
  push: "the storage of this registry does not accept pushes",
  delete: "the storage of this registry does not support deletion",
  catalog: "the storage of this registry cannot list repositories",
};

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

function decode(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      out[k] = v; // malformed escapes fail the grammar checks later
    }
  }
  return out;
}

/**
 * Create a registry.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * const registry = createRegistry();
 * const res = await registry.fetch(new Request("http://localhost/v2/"));
 * console.log(res.status); // 200
 * ```
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const storage = options.storage ?? memoryStorage();
  const provided = capabilitiesOf(storage);
  const settings: RegistrySettings = {
    deletion: options.deletion ?? true,
    referrers: options.referrers ?? true,
    sparseIndexes: options.sparseIndexes ?? false,
    readOnly: options.readOnly ?? false,
    maxManifestSize: options.maxManifestSize ?? 4 * 1024 * 1024,
    uploadTtlMs: options.uploadTtlMs ?? 24 * 60 * 60 * 1000,
  };
  const capabilities: StorageCapabilities = servedCapabilities(provided, settings);
  const logger = options.logger ?? { error: (e: unknown) => console.error("fetch-registry:", e) };
  const auth = options.auth;
  const basePath = (options.basePath ?? "").replace(/\/+$/, "");
  const router = createRouter(options.basePath);
  const urls = createUrlBuilder(options.basePath);
  const hashes = new UploadHashCache();
  const uploadsInUse = new Set<string>();
  let lastPurge = 0;

  /**
   * Why `method` on `route` answers 405, or `undefined` when the registry serves it: the one
   * place that decides what a route allows, from the storage's capabilities narrowed by the
   * options. Upload sessions are not deletions: `deletion: false` leaves their DELETE alone.
   */
  function refusal(route: RouteName, method: Method): string | undefined {
    const endpoint = ENDPOINTS[route][method];
    if (!endpoint) return "method not allowed on this endpoint";
    const needs = endpoint[1];
    if (needs && !provided[needs]) return LACKING[needs] ?? `the storage lacks ${needs}`;
    if (settings.readOnly && WRITES.has(method)) return "the registry is read-only";
    if (method === "DELETE" && route !== "upload" && !settings.deletion) {
      return "deletion is disabled on this registry";
    }
    return undefined;
  }

  /** The 405 for `method` on `route`, with `Allow` (RFC 9110 §15.5.6): the methods served. */
  function notAllowed(route: RouteName, method: Method, path: string, message: string) {
    const allow = Object.keys(ENDPOINTS[route]).filter((m) => !refusal(route, m)).join(", ");
    return new RegistryError("UNSUPPORTED", { method, path }, {
      message,
      headers: { Allow: allow },
    });
  }

  /** Purge expired sessions now and then, in the background, when a session starts. */
  function maybePurge(): void {
    const now = Date.now();
    if (!capabilities.purge || now - lastPurge < PURGE_INTERVAL_MS) return;
    lastPurge = now;
    storage.uploads!.purge!(now - settings.uploadTtlMs).catch((e: unknown) => logger.error?.(e));
  }

  async function dispatch(request: Request, url: URL, seen?: Seen): Promise<Response> {
    const method = request.method;
    const match = router.match(method, url.pathname);
    if (!match) throw new RegistryError("NOT_FOUND", { path: url.pathname });
    if (seen) seen.route = match.route;
    if (match.route === "token") {
      if (!auth?.token) throw new RegistryError("NOT_FOUND", { path: url.pathname });
      return await auth.token(request);
    }
    if (match.route === "base") {
      if (!match.allowed) {
        throw new RegistryError("UNSUPPORTED", { method }, { headers: { Allow: "GET, HEAD" } });
      }
      await auth?.guard(request, { route: "base", method, name: "", url, basePath });
      return json(request, {});
    }
    const refused = match.allowed
      ? refusal(match.route, method)
      : "method not allowed on this endpoint";
    if (refused) throw notAllowed(match.route, method, url.pathname, refused);
    const handler = ENDPOINTS[match.route][method]![0];
    const params = decode(match.params);
    const name = match.route === "catalog" ? "" : requireName(params.name);
    if (seen) seen.repository = name;
    // Access control (lib/auth): who asks and whether they may, before any storage access.
    const grant = await auth?.guard(request, { route: match.route, method, name, url, basePath });
    if (seen) seen.actor = grant?.identity.subject;
    if (match.route === "uploads") maybePurge();
    const ctx: RequestContext = {
      request,
      url: grant?.url ?? url,
      name,
      params,
      storage: grant?.visible ? visibleRepositories(storage, grant.visible) : storage,
      urls,
      settings,
      capabilities,
      hashes,
      uploadsInUse,
    };
    if (seen) seen.ctx = ctx;
    return await handler(ctx);
  }

  const observer = options.observer;

  /** Tell the observer what happened; its failures are logged, never answered. */
  function tell(request: Request, response: Response, seen: Seen): void {
    const { route, repository, ctx, actor } = seen;
    const action = response.status < 400 ? ctx?.observed : undefined;
    try {
      observer?.({ request, response, route, repository, action, actor });
    } catch (error) {
      logger.error?.(error, request);
    }
  }

  async function answer(request: Request, seen?: Seen): Promise<Response> {
    let response: Response;
    try {
      response = await dispatch(request, new URL(request.url), seen);
    } catch (error) {
      if (!(error instanceof RegistryError)) logger.error?.(error, request);
      response = errorResponse(error, request.method, API_VERSION_HEADERS);
    }
    if (seen) tell(request, response, seen);
    return response;
  }

  return {
    storage,
    fetch: observer
      ? (request: Request) =>
        answer(request, { route: undefined, repository: "", ctx: undefined, actor: undefined })
      : (request: Request) => answer(request),
  };
}
