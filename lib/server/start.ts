/**
 * `startRegistry`: a registry on a real socket, on whichever runtime runs it (Deno.serve,
 * Bun.serve or the node:http bridge). Made for tests and embedding; the CLI uses it too.
 *
 * @module
 */
import { createRegistry, type Registry, type RegistryOptions } from "../registry.ts";
import { memoryStorage } from "../storage/memory.ts";
import type { Storage } from "../storage/types.ts";
import { serve, type ServerKind } from "./serve.ts";
import {
  ClientAbortError,
  type FetchHandler,
  type RunningServer,
  type ServeOptions,
} from "./types.ts";

/** Options of {@link startRegistry}: the registry's options, where to listen, and logging. */
export interface StartRegistryOptions
  extends Omit<RegistryOptions, "storage">, Omit<ServeOptions, "hostname"> {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** The storage adapter. Default: a fresh {@link memoryStorage}. */
  storage?: Storage;
  /**
   * Whether `close()` (and a failure to start) also closes the storage (its `close`). Default:
   * true for the default memory storage, false for an adapter passed in.
   */
  closeStorage?: boolean;
  /** Which server: `auto` (default), `native` or `node`; see `serve` in serve.ts. */
  server?: ServerKind;
  /**
   * Wrap the registry before it is served (e.g. `withMetrics`, `withRequestId` from
   * fetch-registry/observe); its `fetch` is what the server calls. Default: the registry itself.
   */
  wrap?: (registry: Registry) => { fetch: FetchHandler };
}

/** A running registry. */
export interface StartedRegistry extends RunningServer {
  /** The storage adapter it serves. */
  readonly storage: Storage;
}

/**
 * Start a registry listening on a real socket (port 0 picks a free port).
 *
 * @example
 * ```ts
 * import { startRegistry } from "fetch-registry/server";
 * const registry = await startRegistry({ port: 0 });
 * const res = await fetch(`${registry.url}/v2/`); // 200
 * // skopeo copy ... docker://${registry.host}/demo:latest
 * await registry.close();
 * ```
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<StartedRegistry> {
  const {
    host,
    storage: storageOption,
    port,
    idleTimeoutMs,
    onRequest,
    onError,
    gcNudgeBytes,
    server: serverKind,
    closeStorage,
    tls,
    wrap,
    ...rest
  } = options;
  const storage = storageOption ?? memoryStorage();
  const owned = closeStorage ?? storageOption === undefined;
  const userLogger = rest.logger;
  const registry = createRegistry({
    ...rest,
    storage,
    logger: {
      error(error, request) {
        // A client that hangs up mid-upload is not a server fault.
        if (error instanceof ClientAbortError) return;
        if (userLogger) userLogger.error?.(error, request);
        else console.error("fetch-registry:", error);
      },
    },
  });
  let server: RunningServer;
  try {
    const served = wrap ? wrap(registry) : registry;
    server = await serve((request) => served.fetch(request), {
      hostname: host,
      port: port ?? 0,
      idleTimeoutMs,
      onRequest,
      onError,
      gcNudgeBytes,
      server: serverKind,
      tls,
    });
  } catch (error) {
    if (owned) await registry.storage.close?.();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    url: server.url,
    host: server.host,
    hostname: server.hostname,
    port: server.port,
    storage: registry.storage,
    close(closeOptions) {
      closed ??= server.close(closeOptions).then(async () => {
        if (owned) await registry.storage.close?.();
      });
      return closed;
    },
  };
}
