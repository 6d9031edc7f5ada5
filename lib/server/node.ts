/**
 * Serve a fetch handler with node:http: a hand-written bridge from IncomingMessage/ServerResponse
 * to the global Request/Response, which it never replaces.
 *
 * Rules (the measurements behind them: bench/results/design_notes.md): no `signal` on the
 * Request (a client abort reaches the handler as a failing request body, {@link ClientAbortError},
 * and as a cancelled response body); a hand-written request body stream that pauses the socket
 * above 1 MiB queued; responses written chunk by chunk, waiting for `drain`; `requestTimeout` 0
 * (Node's 300 s default kills large uploads) with a 120 s idle timeout per connection.
 *
 * Large byte-stream bodies (fsStorage's blobs) are read with a BYOB reader into 1 MiB buffers
 * from a small pool, each handed back once the socket has taken it, the next chunk read while the
 * socket drains the current one (`writePooled`, lib/server/node_response.ts): a download
 * allocates nothing per chunk.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { createGcNudge, defaultGcNudgeBytes } from "./gc_nudge.ts";
import { ConnectionTracker } from "./node_connections.ts";
import { type Exchange, writeResponse } from "./node_response.ts";
import { setRemoteAddress } from "./remote_address.ts";
import {
  AddressInUseError,
  ClientAbortError,
  type CloseOptions,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  type FetchHandler,
  formatHost,
  type RequestLogEntry,
  type RunningServer,
  type ServeOptions,
} from "./types.ts";

/** Bytes a request body may queue ahead of the handler before the socket is paused. */
const REQUEST_BODY_HIGH_WATER_MARK = 1024 * 1024;

function hasBody(req: IncomingMessage): boolean {
  if (req.method === "GET" || req.method === "HEAD") return false;
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

/** The request body as a Web stream, pausing the socket while the handler is behind. */
function bodyStream(req: IncomingMessage, exchange: Exchange): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        exchange.bytesIn += chunk.byteLength;
        exchange.onBytes?.(chunk.byteLength);
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => {
        if (finished) return;
        finished = true;
        controller.close();
      });
      const fail = () => {
        if (finished) return;
        finished = true;
        controller.error(new ClientAbortError());
      };
      req.once("error", fail);
      req.once("close", () => {
        if (!req.complete) fail();
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      // The handler does not want the rest: discard it, so the response can still be sent and
      // the connection reused.
      finished = true;
      req.removeAllListeners("data");
      req.resume();
    },
  }, { highWaterMark: REQUEST_BODY_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength });
}

function toRequest(
  req: IncomingMessage,
  exchange: Exchange,
  origin: string,
  scheme: string,
): Request {
  const target = req.url ?? "/";
  const host = req.headers.host;
  let url: string;
  if (/^https?:\/\//i.test(target)) url = target;
  else url = `${scheme}://${host && /^[A-Za-z0-9.\-:\[\]]+$/.test(host) ? host : origin}${target}`;
  const init: RequestInit & { duplex?: "half" } = {
    method: req.method,
    headers: req.headers as Record<string, string>,
  };
  if (hasBody(req)) {
    init.body = bodyStream(req, exchange);
    init.duplex = "half";
  }
  return new Request(url, init);
}

/** `ip:port` of the socket's peer (IPv6 in brackets), or undefined once it is gone. */
function peerAddress(socket: Socket): string | undefined {
  const ip = socket.remoteAddress;
  return ip === undefined ? undefined : formatHost(ip, socket.remotePort ?? 0);
}

/**
 * After the response, drop whatever is left of a request body the handler did not read (an early
 * error answer), so the socket is not left paused and the connection can serve the next request.
 */
function discardUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  req.removeAllListeners("data");
  req.resume();
}

/**
 * Serve `handler` on node:http. Also runs on Deno and Bun through their node:http: on Deno it is
 * the default server (it reads streamed uploads ~10× faster than Deno.serve; see serve.ts), on Bun
 * `Bun.serve` is faster.
 *
 * No limit on a request's total duration (`requestTimeout` 0): a connection is closed only after
 * `idleTimeoutMs` without traffic. Request bodies stream to the handler with backpressure;
 * response bodies stream out waiting for `drain`. A client that goes away mid-upload makes the
 * request body fail with {@link ClientAbortError}; mid-download, the response body is cancelled.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { serveNode } from "fetch-registry/server";
 * const server = await serveNode(createRegistry().fetch, { port: 0 });
 * console.log(server.url); // http://127.0.0.1:PORT
 * await server.close();
 * ```
 */
export function serveNode(
  handler: FetchHandler,
  options: ServeOptions = {},
): Promise<RunningServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const onRequest = options.onRequest;
  const onError = options.onError ?? ((e: unknown) => console.error("fetch-registry:", e));
  const nudge = createGcNudge(options.gcNudgeBytes ?? defaultGcNudgeBytes());
  let origin = hostname;
  const pool: ArrayBuffer[] = [];
  const connections = new ConnectionTracker();

  const scheme = options.tls ? "https" : "http";
  const listener = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const started = performance.now();
    const socket = req.socket;
    connections.started(socket);
    const exchange: Exchange = { bytesIn: 0, bytesOut: 0, status: 0, onBytes: nudge };
    const remoteAddr = peerAddress(socket);
    let request: Request | undefined;
    req.on("error", () => {});
    res.on("error", () => {});
    res.once("finish", () => discardUnreadBody(req));
    res.once("close", () => {
      const aborted = !res.writableFinished;
      if (aborted) exchange.abort?.();
      if (onRequest) {
        const entry: RequestLogEntry = {
          method: req.method ?? "",
          path: req.url ?? "",
          status: exchange.status,
          bytesIn: exchange.bytesIn,
          bytesOut: exchange.bytesOut,
          bytes: exchange.bytesIn + exchange.bytesOut,
          ms: performance.now() - started,
          aborted,
          request,
          remoteAddr,
        };
        onRequest(entry);
      }
      connections.finished(socket);
    });
    let built: Request;
    try {
      request = built = toRequest(req, exchange, origin, scheme);
      setRemoteAddress(built, remoteAddr);
    } catch {
      exchange.status = 400;
      res.writeHead(400, { "content-type": "text/plain", "connection": "close" });
      res.end("bad request\n");
      return;
    }
    Promise.resolve()
      .then(() => handler(built))
      .catch((error: unknown) => {
        onError(error);
        return new Response("internal server error\n", { status: 500 });
      })
      .then((response) => writeResponse(req, res, response, exchange, connections.closing, pool))
      .catch((error: unknown) => {
        onError(error);
        res.destroy();
      });
  };
  // https.Server is a tls.Server with node:http's request handling: the same bridge serves both.
  const server: Server = options.tls
    ? createHttpsServer(
      { requestTimeout: 0, cert: options.tls.cert, key: options.tls.key },
      listener,
    ) as unknown as Server
    : createServer({ requestTimeout: 0 }, listener);
  server.on(
    options.tls ? "secureConnection" : "connection",
    (socket: Socket) => connections.opened(socket),
  );
  server.timeout = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

  let closed: Promise<void> | undefined;
  function close(closeOptions: CloseOptions = {}): Promise<void> {
    if (closed) return closed;
    const timeoutMs = closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    closed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      connections.closeIdle();
    });
    return closed;
  }

  return new Promise<RunningServer>((resolve, reject) => {
    const port = options.port ?? 0;
    const onListenError = (error: NodeJS.ErrnoException) => {
      reject(error.code === "EADDRINUSE" ? new AddressInUseError(hostname, port) : error);
    };
    server.once("error", onListenError);
    server.listen(port, hostname, () => {
      server.off("error", onListenError);
      server.on("error", (e) => onError(e));
      const address = server.address() as AddressInfo;
      const host = formatHost(hostname, address.port);
      origin = host;
      resolve({
        url: `${scheme}://${host}`,
        host,
        hostname,
        port: address.port,
        close,
      });
    });
  });
}
