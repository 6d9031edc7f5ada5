/**
 * What fault rules do to a response: answer instead of the registry (an OCI error, a raw body, a
 * redirect), add headers (`Retry-After`, `Warning`, any other), and cut the body after N bytes.
 *
 * @module
 */
import { ERROR_CODES } from "../errors.ts";
import type { FaultMark, FaultRule } from "./fault_types.ts";

/**
 * The error a cut response body fails with (`cutAfter` with `cutMode: "error"`).
 *
 * @example
 * ```ts
 * try {
 *   await res.arrayBuffer();
 * } catch (e) {
 *   // in-process: e (or e.cause) is an InjectedFaultError; over a socket the client sees the
 *   // connection drop instead
 * }
 * ```
 */
export class InjectedFaultError extends Error {
  /** @param message What was injected. */
  constructor(message: string) {
    super(message);
    this.name = "InjectedFaultError";
  }
}

/** The usual OCI code of a status; distribution's `UNKNOWN` for the rest. */
const STATUS_CODES: Record<number, string> = {
  401: "UNAUTHORIZED",
  403: "DENIED",
  404: "NOT_FOUND",
  405: "UNSUPPORTED",
  413: "SIZE_INVALID",
  416: "RANGE_INVALID",
  429: "TOOMANYREQUESTS",
  500: "INTERNAL",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "UNAVAILABLE",
};

const API_VERSION = "registry/2.0";

/**
 * Wait `ms` milliseconds.
 *
 * @example
 * ```ts
 * await sleep(50);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function addHeaders(headers: Headers, extra: Array<[string, string]>): void {
  for (const [k, v] of extra) {
    if (k.toLowerCase() === "warning") headers.append(k, v);
    else headers.set(k, v);
  }
}

function warningValue(text: string): string {
  return /^\d{3} /.test(text) ? text : `299 - "${text.replace(/["\\]/g, "\\$&")}"`;
}

/** Pause between the last bytes of a cut body and its failure. */
const CUT_FLUSH_MS = 20;

/**
 * Cut a body after `limit` bytes: fail the stream, or end it. The failure comes on the read after
 * the last delivered bytes (erroring a stream drops what is still queued in it).
 */
function cutBody(
  body: ReadableStream<Uint8Array>,
  limit: number,
  mode: "error" | "end",
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let sent = 0;
  const stop = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    reader.cancel().catch(() => {});
    if (mode === "end") controller.close();
    else {controller.error(
        new InjectedFaultError(`fault injected: response body cut after ${limit} bytes`),
      );}
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= limit) {
        // Give a server the time to put the bytes delivered so far on the wire before the reset.
        if (limit > 0) await sleep(CUT_FLUSH_MS);
        return stop(controller);
      }
      const { done, value } = await reader.read();
      if (done) return controller.close();
      const room = limit - sent;
      const piece = value.byteLength <= room ? value : value.subarray(0, room);
      sent += piece.byteLength;
      controller.enqueue(piece);
      if (sent >= limit && mode === "end") stop(controller);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The answer of a rule with a `status`, `body` or `redirect`, given instead of the registry's:
 * a redirect, a raw body, or an OCI error body (with the status's usual code unless `code` is
 * set, and `{ fault: name }` as detail unless `detail` is set).
 *
 * @example
 * ```ts
 * answerFor({ status: 429 }, "fault-1", request, new URL(request.url)).status; // 429
 * ```
 */
export function answerFor(rule: FaultRule, name: string, request: Request, url: URL): Response {
  const headers = new Headers({ "Docker-Distribution-API-Version": API_VERSION });
  if (rule.redirect !== undefined) {
    const location = typeof rule.redirect === "string"
      ? rule.redirect
      : rule.redirect(url, request);
    headers.set("Location", location);
    headers.set("Content-Length", "0");
    return new Response(null, { status: rule.redirectStatus ?? 307, headers });
  }
  const status = rule.status ?? 500;
  let body: string;
  if (rule.body !== undefined) {
    body = rule.body;
    headers.set("Content-Type", "text/plain; charset=utf-8");
  } else {
    const code = rule.code ?? STATUS_CODES[status] ?? "UNKNOWN";
    const known = (ERROR_CODES as Record<string, readonly [number, string]>)[code];
    const message = rule.message ?? known?.[1] ?? "fault injected";
    body = JSON.stringify({
      errors: [{ code, message, detail: rule.detail ?? { fault: name } }],
    });
    headers.set("Content-Type", "application/json");
  }
  if (request.method === "HEAD") return new Response(null, { status, headers });
  headers.set("Content-Length", String(new TextEncoder().encode(body).byteLength));
  return new Response(body, { status, headers });
}

/**
 * `response` with what `rules` add to it: `Retry-After`, headers and warnings from every rule, and
 * the body cut at the smallest `cutAfter` (recorded in `mark`). Untouched when nothing applies;
 * with headers only, they are changed in place so that the body reaches the server as it is.
 *
 * @example
 * ```ts
 * const res = withEffects(await next(request), [{ retryAfter: 1 }, { cutAfter: 10 }], mark);
 * ```
 */
export function withEffects(response: Response, rules: FaultRule[], mark: FaultMark): Response {
  const extra: Array<[string, string]> = [];
  for (const rule of rules) {
    if (rule.retryAfter !== undefined) extra.push(["Retry-After", String(rule.retryAfter)]);
    for (const [k, v] of Object.entries(rule.headers ?? {})) extra.push([k, v]);
    const warnings = rule.warning === undefined ? [] : ([] as string[]).concat(rule.warning);
    for (const w of warnings) extra.push(["Warning", warningValue(w)]);
  }
  const cuts = rules.filter((rule) => rule.cutAfter !== undefined);
  const cut = response.body && cuts.length
    ? cuts.reduce((a, b) => (b.cutAfter! < a.cutAfter! ? b : a))
    : undefined;

  if (!cut) {
    if (extra.length === 0) return response;
    // Headers only: change them in place, so the body (a Blob Bun can send with sendfile and a
    // Content-Length, say) reaches the server untouched. Fetched responses have immutable
    // headers: rebuild those.
    try {
      addHeaders(response.headers, extra);
      return response;
    } catch {
      const headers = new Headers(response.headers);
      addHeaders(headers, extra);
      return rebuilt(response, response.body, headers);
    }
  }
  const headers = new Headers(response.headers);
  addHeaders(headers, extra);
  const limit = cut.cutAfter!;
  const mode = cut.cutMode ?? "error";
  const declared = Number(headers.get("Content-Length") ?? NaN);
  mark.cutAfter = Number.isNaN(declared) ? limit : Math.min(limit, declared);
  if (mode === "end") headers.delete("Content-Length");
  return rebuilt(response, cutBody(response.body!, limit, mode), headers);
}

/** `response`'s status with another body and headers. */
function rebuilt(response: Response, body: BodyInit | null, headers: Headers): Response {
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
