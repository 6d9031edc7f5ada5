/**
 * Serve a fetch handler with `Bun.serve`, with settings a registry needs: no request body size
 * limit, an idle timeout that tolerates slow clients, and plain (non-HTML) error pages. Only
 * touches the `Bun` global when called, so this module can be imported on any runtime.
 *
 * @module
 */
import { bunGlobal as bunGlobalOf } from "../runtime.ts";
import { createGcNudge, defaultGcNudgeBytes } from "./gc_nudge.ts";
import { instrumentHandler } from "./metering.ts";
import {
  AddressInUseError,
  type CloseOptions,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  type FetchHandler,
  formatHost,
  type RunningServer,
  type ServeOptions,
} from "./types.ts";

/** The part of `Bun.serve` used here (declared locally: the package is type-checked for Node). */
interface BunServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void>;
  requestIP(request: Request): { address: string; port: number } | null;
}
interface BunServeOptions {
  port: number;
  tls?: { cert: string; key: string };
  hostname: string;
  development: boolean;
  reusePort: boolean;
  maxRequestBodySize: number;
  idleTimeout: number;
  fetch(request: Request, server: BunServer): Response | Promise<Response>;
  error(error: unknown): Response;
}
interface BunGlobal {
  serve(options: BunServeOptions): BunServer;
}

/**
 * Stream bodies up to this size that declare a Content-Length are buffered into one piece so that
 * Bun keeps the header (it drops it on stream bodies, oven-sh/bun#10507). Larger ones go chunked,
 * unless the handler gives a `Blob` (as fsStorage does with `Bun.file()`).
 */
const BUFFER_STREAM_BODY_BYTES = 1024 * 1024;

/** Bun.serve's largest idle timeout, seconds. */
const BUN_MAX_IDLE_TIMEOUT_S = 255;

function bunGlobal(): BunGlobal {
  const bun = bunGlobalOf<BunGlobal>();
  if (!bun || typeof bun.serve !== "function") throw new Error("serveBun needs the Bun runtime");
  return bun;
}

/**
 * Serve `handler` with `Bun.serve`.
 *
 * Note Bun's own trap: it drops a `Content-Length` set on a stream body and sends it chunked, so a
 * handler that must send a length gives a `Blob` (ideally `Bun.file()`), or a null body for HEAD.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { serveBun } from "fetch-registry/server";
 * const server = await serveBun(createRegistry().fetch, { port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export function serveBun(
  handler: FetchHandler,
  options: ServeOptions = {},
): Promise<RunningServer> {
  const bun = bunGlobal();
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  const onError = options.onError ?? ((e: unknown) => console.error("fetch-registry:", e));
  const keepLength: FetchHandler = async (request) => {
    const response = await handler(request);
    const length = response.headers.get("Content-Length");
    // Only blob-like bodies: JSON and manifests are built from bytes, which Bun sends with
    // their length anyway, and re-buffering them would cost every small request.
    if (
      response.body && request.method !== "HEAD" && length !== null && /^\d+$/.test(length) &&
      Number(length) <= BUFFER_STREAM_BODY_BYTES &&
      (response.status === 200 || response.status === 206) &&
      response.headers.get("Content-Type") === "application/octet-stream"
    ) {
      const bytes = await response.arrayBuffer();
      return new Response(bytes, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
    return response;
  };
  const instrumented = instrumentHandler(keepLength, {
    onRequest: options.onRequest,
    onBytes: createGcNudge(options.gcNudgeBytes ?? defaultGcNudgeBytes()),
    trustResponseLength: true,
  });
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let server: BunServer;
  try {
    server = bun.serve({
      port,
      hostname,
      ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
      development: false,
      reusePort: false,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      idleTimeout: Math.min(BUN_MAX_IDLE_TIMEOUT_S, Math.max(1, Math.ceil(idleMs / 1000))),
      fetch(request, self) {
        const peer = self.requestIP(request);
        const remoteAddr = peer ? formatHost(peer.address, peer.port) : undefined;
        return instrumented(request, undefined, remoteAddr);
      },
      error(error) {
        onError(error);
        return new Response("internal server error\n", { status: 500 });
      },
    });
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e?.code === "EADDRINUSE" || /in use/i.test(e?.message ?? "")) {
      return Promise.reject(new AddressInUseError(hostname, port));
    }
    return Promise.reject(error);
  }
  const host = formatHost(hostname, server.port);
  let closed: Promise<void> | undefined;
  return Promise.resolve({
    url: `${options.tls ? "https" : "http"}://${host}`,
    host,
    hostname,
    port: server.port,
    close(closeOptions: CloseOptions = {}): Promise<void> {
      if (closed) return closed;
      const timeoutMs = closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          server.stop(true).then(resolve, resolve);
        }, timeoutMs);
      });
      closed = Promise.race([server.stop(false), bound]).finally(() => clearTimeout(timer));
      return closed;
    },
  });
}
