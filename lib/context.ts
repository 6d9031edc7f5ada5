/**
 * The per-request context the handler builds for each route: the request, its parsed URL and
 * route parameters, and the registry-wide parts (storage, URL builder, settings, hash cache).
 *
 * @module
 */
import type { UploadHashCache } from "./hashing.ts";
import type { ObservedAction } from "./observe/outcome.ts";
import type { StorageCapabilities } from "./storage/capabilities.ts";
import type { Storage } from "./storage/types.ts";
import type { UrlBuilder } from "./url_builder.ts";

/** Resolved registry settings. */
export interface RegistrySettings {
  /** The `deletion` option (what is served: {@link RequestContext.capabilities}). */
  deletion: boolean;
  /** The `referrers` option (what is served: {@link RequestContext.capabilities}). */
  referrers: boolean;
  /** Index children need not exist. */
  sparseIndexes: boolean;
  /** Every write answers 405. */
  readOnly: boolean;
  /** Largest manifest accepted, bytes. */
  maxManifestSize: number;
  /** Upload sessions created longer ago than this are unknown (and purged), ms. */
  uploadTtlMs: number;
}

/** What every route handler receives. */
export interface RequestContext {
  /** The request. */
  request: Request;
  /** Its parsed URL. */
  url: URL;
  /** Decoded, validated repository name (empty for `/v2/` and `_catalog`). */
  name: string;
  /** Route parameters, percent-decoded. */
  params: Record<string, string>;
  /** The storage adapter. */
  storage: Storage;
  /** Builds Location and Link values. */
  urls: UrlBuilder;
  /** Registry settings. */
  settings: RegistrySettings;
  /**
   * What the registry serves: the storage's optional capabilities, narrowed by the options. A
   * route runs only when the storage has the members it needs.
   */
  capabilities: StorageCapabilities;
  /** Upload hash states of this process. */
  hashes: UploadHashCache;
  /**
   * Ids of the upload sessions a PATCH or PUT of this registry is writing or completing right now:
   * a second request on the same session waits for none of them and answers 416, so the bytes a
   * PUT verified are the bytes it commits.
   */
  uploadsInUse: Set<string>;
  /** Set by a route after a successful push, pull, delete or mount, for the request observer. */
  observed?: ObservedAction;
}

/** A route handler. */
export type RouteHandler = (ctx: RequestContext) => Promise<Response>;
