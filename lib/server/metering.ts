/**
 * Byte counting for the access log on servers that take Web Responses directly (Deno.serve,
 * Bun.serve): a pass-through stream that counts what the server pulls and reports when it ends.
 *
 * @module
 */

import { setRemoteAddress } from "./remote_address.ts";
import type { FetchHandler, RequestLogEntry } from "./types.ts";

/** How a metered stream ended. */
export type MeterEnd = "done" | "cancelled" | "errored";

/**
 * Wrap `source` in a stream that passes every chunk through unchanged, adds its size through
 * `onBytes`, and calls `onEnd` exactly once when the stream is read to the end, cancelled by the
 * consumer (the client went away) or fails. Pull-based: it reads from `source` only when the
 * consumer asks, so backpressure is kept.
 */
export function meterStream(
  source: ReadableStream<Uint8Array>,
  onBytes: (n: number) => void,
  onEnd: (how: MeterEnd) => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let ended = false;
  const end = (how: MeterEnd) => {
    if (ended) return;
    ended = true;
    onEnd(how);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end("done");
          return;
        }
        onBytes(value.byteLength);
        controller.enqueue(value);
      } catch (error) {
        end("errored");
        controller.error(error);
      }
    },
    async cancel(reason) {
      end("cancelled");
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/** Options of {@link instrumentHandler}. */
export interface InstrumentOptions {
  /** Called once per request, when its response body has been sent or abandoned. */
  onRequest?: (entry: RequestLogEntry) => void;
  /** Called with the size of every body chunk passing through (e.g. a GC nudge). */
  onBytes?: (n: number) => void;
  /**
   * Take a response's `Content-Length` as the bytes sent and pass its body through untouched
   * (Bun: a `Blob` body must reach Bun.serve as it is, or its Content-Length and sendfile are lost;
   * Deno: a file-backed stream must, or Deno.serve copies it through JavaScript). Such a response
   * is reported when the `sent` promise given with the request settles (at once without one), and
   * is never marked aborted.
   */
  trustResponseLength?: boolean;
}

/**
 * A fetch handler that may be told when the server has finished sending its response, and the
 * client's address (recorded for `remoteAddress`, remote_address.ts).
 */
export type InstrumentedHandler = (
  request: Request,
  sent?: PromiseLike<unknown>,
  remoteAddr?: string,
) => Promise<Response>;

/**
 * Wrap `handler` for a server that takes Web Responses directly: request and response bodies
 * pass through counting streams, and each request is reported to `onRequest` once its response
 * body has been sent (or the client went away). Answers `handler` itself when there is nothing to
 * do.
 */
export function instrumentHandler(
  handler: FetchHandler,
  options: InstrumentOptions,
): InstrumentedHandler {
  const { onRequest, onBytes, trustResponseLength } = options;
  if (!onRequest && !onBytes) {
    return async (request, _sent, remoteAddr) => {
      setRemoteAddress(request, remoteAddr);
      return await handler(request);
    };
  }
  return async (
    request: Request,
    sent?: PromiseLike<unknown>,
    remoteAddr?: string,
  ): Promise<Response> => {
    const started = performance.now();
    let path = "";
    if (onRequest) {
      const url = new URL(request.url);
      path = url.pathname + url.search;
    }
    let bytesIn = 0;
    let bytesOut = 0;
    let requestAborted = false;
    const countIn = (n: number) => {
      bytesIn += n;
      onBytes?.(n);
    };
    const countOut = (n: number) => {
      bytesOut += n;
      onBytes?.(n);
    };
    if (request.body) {
      // Not `new Request(request, ...)`: that would follow the original's signal, which Deno
      // aborts after every response (and warns about); the handler does not use the signal.
      request = new Request(request.url, {
        method: request.method,
        headers: request.headers,
        body: meterStream(request.body, countIn, (how) => {
          if (how === "errored") requestAborted = true;
        }),
        duplex: "half",
      } as RequestInit);
    }
    const report = (status: number, aborted: boolean) =>
      onRequest?.({
        method: request.method,
        path,
        status,
        bytesIn,
        bytesOut,
        bytes: bytesIn + bytesOut,
        ms: performance.now() - started,
        aborted,
        request,
        remoteAddr,
      });
    setRemoteAddress(request, remoteAddr);
    const response = await handler(request);
    const length = response.headers.get("Content-Length");
    const noBody = request.method === "HEAD" || response.status === 204 || response.status === 304;
    if (!response.body || noBody) {
      report(response.status, requestAborted);
      return response;
    }
    if (trustResponseLength && length !== null && /^\d+$/.test(length)) {
      bytesOut += Number(length);
      const done = () => report(response.status, requestAborted);
      if (typeof sent?.then === "function") sent.then(done, done);
      else done();
      return response;
    }
    const body = meterStream(response.body, countOut, (how: MeterEnd) => {
      report(response.status, how !== "done");
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
