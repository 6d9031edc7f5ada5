/**
 * Serve a fetch handler with `Deno.serve`. Only touches the `Deno` global when called, so this
 * module can be imported on any runtime.
 *
 * @module
 */
import { denoGlobal as denoGlobalOf } from "../runtime.ts";
import { createGcNudge, defaultGcNudgeBytes } from "./gc_nudge.ts";
import { instrumentHandler } from "./metering.ts";
import {
  AddressInUseError,
  type CloseOptions,
  DEFAULT_CLOSE_TIMEOUT_MS,
  type FetchHandler,
  formatHost,
  type RunningServer,
  type ServeOptions,
} from "./types.ts";

/** The part of `Deno.serve` used here (declared locally: the package is type-checked for Node). */
interface DenoServer {
  readonly addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}
interface DenoServeOptions {
  port: number;
  cert?: string;
  key?: string;
  hostname: string;
  onListen(addr: unknown): void;
  onError(error: unknown): Response | Promise<Response>;
  handler(
    request: Request,
    info?: { completed?: Promise<void>; remoteAddr?: { hostname?: string; port?: number } },
  ): Response | Promise<Response>;
}
interface DenoGlobal {
  serve(options: DenoServeOptions): DenoServer;
}

function denoGlobal(): DenoGlobal {
  const deno = denoGlobalOf<DenoGlobal>();
  if (!deno || typeof deno.serve !== "function") {
    throw new Error("serveDeno needs the Deno runtime");
  }
  return deno;
}

/**
 * Serve `handler` with `Deno.serve` (quiet: no "Listening on" line).
 *
 * A response with a Content-Length goes to Deno.serve untouched, so that a file-backed body
 * (fsStorage's `Deno.FsFile.readable`) is copied from file to socket in Rust; its request-log
 * entry is written once Deno reports the response finished, with the Content-Length as the bytes
 * sent and never marked aborted (Deno 2.9 reports a client that hung up the same way as a
 * completed response). Other bodies are counted as they pass.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { serveDeno } from "fetch-registry/server";
 * const server = await serveDeno(createRegistry().fetch, { port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export function serveDeno(
  handler: FetchHandler,
  options: ServeOptions = {},
): Promise<RunningServer> {
  const deno = denoGlobal();
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  const onError = options.onError ?? ((e: unknown) => console.error("fetch-registry:", e));
  const serveHandler = instrumentHandler(handler, {
    onRequest: options.onRequest,
    onBytes: createGcNudge(options.gcNudgeBytes ?? defaultGcNudgeBytes()),
    trustResponseLength: true,
  });
  // Deno 2.9's shutdown() makes in-flight request bodies unreadable at once (denoland/deno#36809),
  // so close() first drains: in-flight requests finish while new ones get 503 + Connection: close;
  // only then is the listener shut down.
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  let server: DenoServer;
  try {
    server = deno.serve({
      port,
      hostname,
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      onListen() {},
      onError(error) {
        onError(error);
        return new Response("internal server error\n", { status: 500 });
      },
      handler(request, info) {
        if (draining) {
          return new Response("the server is shutting down\n", {
            status: 503,
            headers: { "Connection": "close", "Retry-After": "1" },
          });
        }
        inFlight++;
        let counted = true;
        const done = () => {
          if (!counted) return;
          counted = false;
          inFlight--;
          if (draining && inFlight === 0) drained?.();
        };
        const peer = info?.remoteAddr;
        const remoteAddr = peer?.hostname !== undefined
          ? formatHost(peer.hostname, peer.port ?? 0)
          : undefined;
        if (info?.completed) {
          info.completed.then(done, done);
          return serveHandler(request, info.completed, remoteAddr);
        }
        return Promise.resolve(serveHandler(request, undefined, remoteAddr)).finally(done);
      },
    });
  } catch (error) {
    if ((error as Error)?.name === "AddrInUse") {
      return Promise.reject(new AddressInUseError(hostname, port));
    }
    return Promise.reject(error);
  }
  const host = formatHost(hostname, server.addr.port);
  let closed: Promise<void> | undefined;
  return Promise.resolve({
    url: `${options.tls ? "https" : "http"}://${host}`,
    host,
    hostname,
    port: server.addr.port,
    close(closeOptions: CloseOptions = {}): Promise<void> {
      if (closed) return closed;
      const timeoutMs = closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      draining = true;
      const idle = new Promise<void>((resolve) => {
        drained = resolve;
        if (inFlight === 0) resolve();
      });
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      // Past the bound, shutdown() cuts what is left (their bodies fail); a handler that still
      // does not finish is not waited for longer than a second.
      closed = Promise.race([idle, bound])
        .then(() => {
          clearTimeout(timer);
          return Promise.race([server.shutdown(), new Promise<void>((r) => setTimeout(r, 1000))]);
        });
      return closed;
    },
  });
}
