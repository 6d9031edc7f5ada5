/**
 * Serve a fetch handler with `Deno.serve`. Only touches the `Deno` global when called, so this
 * module can be imported on any runtime.
 *
 * @module
 */
import { createGcNudge, DEFAULT_GC_NUDGE_BYTES } from "./gc_nudge.ts";
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
  hostname: string;
  onListen(addr: unknown): void;
  onError(error: unknown): Response | Promise<Response>;
  handler(request: Request): Response | Promise<Response>;
}
interface DenoGlobal {
  serve(options: DenoServeOptions): DenoServer;
}

function denoGlobal(): DenoGlobal {
  const deno = (globalThis as unknown as { Deno?: DenoGlobal }).Deno;
  if (!deno || typeof deno.serve !== "function") throw new Error("serveDeno needs the Deno runtime");
  return deno;
}

/**
 * Serve `handler` with `Deno.serve` (quiet: no "Listening on" line).
 *
 * @example
 * ```ts
 * import { createRegistry, serveDeno } from "fetch-registry";
 * const server = await serveDeno(createRegistry().fetch, { port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export function serveDeno(handler: FetchHandler, options: ServeOptions = {}): Promise<RunningServer> {
  const deno = denoGlobal();
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  const onError = options.onError ?? ((e: unknown) => console.error("fetch-registry:", e));
  const serveHandler = instrumentHandler(handler, {
    onRequest: options.onRequest,
    onBytes: createGcNudge(options.gcNudgeBytes ?? DEFAULT_GC_NUDGE_BYTES),
  });
  let server: DenoServer;
  try {
    server = deno.serve({
      port,
      hostname,
      onListen() {},
      onError(error) {
        onError(error);
        return new Response("internal server error\n", { status: 500 });
      },
      handler: serveHandler,
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
    url: `http://${host}`,
    host,
    hostname,
    port: server.addr.port,
    close(closeOptions: CloseOptions = {}): Promise<void> {
      if (closed) return closed;
      const timeoutMs = closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Deno has no way to cut in-flight connections: past the bound, stop waiting for them.
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      closed = Promise.race([server.shutdown(), bound]).finally(() => clearTimeout(timer));
      return closed;
    },
  });
}
