/**
 * Request recording: every request a test registry answers (method, path, status, selected
 * headers, bytes, duration, and which fault rules acted), in arrival order, for assertions.
 *
 * @module
 */
import type { FaultMark, Handler } from "./fault_types.ts";
import { pathPattern } from "./glob.ts";

/** One recorded request and its response. */
export interface RecordedRequest {
  /** Request method. */
  readonly method: string;
  /** Request pathname (no query). */
  readonly path: string;
  /** Query string with its `?`, or "". */
  readonly query: string;
  /** The full request URL. */
  readonly url: string;
  /** Response status; 0 until the registry has answered (or when the handler threw). */
  readonly status: number;
  /**
   * The selected request headers that were present, keyed as spelled in the options. Credentials
   * (`Authorization`, `Proxy-Authorization`, `Cookie`) keep only their scheme: `Basic [redacted]`.
   */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** The selected response headers that were present, keyed as spelled in the options. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /**
   * Request body bytes: the declared `Content-Length`, or, without one, the bytes counted as the
   * registry read the body.
   */
  readonly requestBytes: number;
  /**
   * Response body bytes: the declared `Content-Length` (every registry response with a body has
   * one), or the bytes a cut body delivers; 0 for HEAD and empty bodies. Counted without touching
   * the body, so responses reach the client exactly as the registry made them.
   */
  readonly responseBytes: number;
  /** Milliseconds from the request to the response (headers), injected latency included. */
  readonly duration: number;
  /** Names of the fault rules that acted on this request (empty when none). */
  readonly faults: readonly string[];
}

/** Which requests to select: every given criterion must hold. */
export interface RequestFilter {
  /** Method(s). */
  method?: string | string[];
  /** Pathname glob (`*` within a segment, `**` across) or RegExp. */
  path?: string | RegExp;
  /** Response status(es). */
  status?: number | number[];
  /** Only requests some fault rule acted on (true), or none did (false). */
  faulted?: boolean;
}

/** The recorded requests of a test registry. */
export interface RequestLog extends Iterable<RecordedRequest> {
  /** Every recorded request, in arrival order (a copy). */
  readonly all: readonly RecordedRequest[];
  /** How many requests are recorded. */
  readonly length: number;
  /**
   * The last recorded request (optionally: the last matching `filter`).
   *
   * @example
   * ```ts
   * await registry.fetch("/v2/");
   * assert.equal(registry.requests.last()?.status, 200);
   * ```
   */
  last(filter?: RequestFilter): RecordedRequest | undefined;
  /**
   * The recorded requests matching `filter` (an object or a predicate).
   *
   * @example
   * ```ts
   * const puts = registry.requests.filter({ method: "PUT", path: "/v2/**\/manifests/*" });
   * ```
   */
  filter(filter: RequestFilter | ((r: RecordedRequest) => boolean)): RecordedRequest[];
  /**
   * How many recorded requests match `filter` (all when omitted).
   *
   * @example
   * ```ts
   * assert.equal(registry.requests.count({ method: "GET", status: 503 }), 2);
   * ```
   */
  count(filter?: RequestFilter | ((r: RecordedRequest) => boolean)): number;
  /**
   * One line per request, `"<METHOD> <path+query> <status>"`: easy to `deepEqual` and to print.
   *
   * @example
   * ```ts
   * assert.deepEqual(registry.requests.summary(), ["GET /v2/ 200"]);
   * ```
   */
  summary(): string[];
  /**
   * Forget every recorded request.
   *
   * @example
   * ```ts
   * registry.requests.clear();
   * ```
   */
  clear(): void;
}

/** Options of request recording. */
export interface RecorderOptions {
  /** Header names to keep (request and response). Default {@link DEFAULT_RECORDED_HEADERS}. */
  headers?: string[];
  /**
   * Keep at most this many requests: past it, the oldest tenth is dropped. Default 10000.
   */
  limit?: number;
}

/**
 * The headers recorded by default, spelled as the spec spells them.
 *
 * @example
 * ```ts
 * createTestRegistry({ record: { headers: [...DEFAULT_RECORDED_HEADERS, "User-Agent"] } });
 * ```
 */
export const DEFAULT_RECORDED_HEADERS: readonly string[] = [
  "Accept",
  "Authorization",
  "Content-Type",
  "Content-Length",
  "Content-Range",
  "Range",
  "Location",
  "Docker-Content-Digest",
  "Docker-Upload-UUID",
  "OCI-Subject",
  "OCI-Filters-Applied",
  "Link",
  "Retry-After",
  "Warning",
];

/** Headers whose values are credentials: recorded as their scheme only (`Bearer [redacted]`). */
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"]);

/** A credential header's value with its secret part replaced. */
function redact(value: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*(?= )/.exec(value)?.[0];
  return scheme ? `${scheme} [redacted]` : "[redacted]";
}

function pick(headers: Headers, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? redact(value) : value;
  }
  return out;
}

/** A recorded request; selected headers are copied out only when first read. */
class Recorded implements RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly url: string;
  status = 0;
  requestBytes = 0;
  responseBytes = 0;
  duration = 0;
  faults: readonly string[] = [];
  #names: readonly string[];
  #requestHeaders: Headers | Record<string, string>;
  #responseHeaders: Headers | Record<string, string> = {};

  constructor(request: Request, names: readonly string[]) {
    this.method = request.method;
    this.url = request.url;
    // `request.url` is already serialized: split it without the cost of a URL object.
    const start = this.url.indexOf("/", this.url.indexOf("//") + 2);
    const hash = this.url.indexOf("#", start);
    const end = hash < 0 ? this.url.length : hash;
    const q = this.url.indexOf("?", start);
    const pathEnd = start < 0 ? end : q < 0 || q > end ? end : q;
    this.path = start < 0 ? "/" : this.url.slice(start, pathEnd);
    const query = start < 0 || pathEnd === end ? "" : this.url.slice(pathEnd, end);
    this.query = query === "?" ? "" : query;
    this.#names = names;
    this.#requestHeaders = request.headers;
  }

  setResponse(headers: Headers): void {
    this.#responseHeaders = headers;
  }

  get requestHeaders(): Record<string, string> {
    if (this.#requestHeaders instanceof Headers) {
      this.#requestHeaders = pick(this.#requestHeaders, this.#names);
    }
    return this.#requestHeaders;
  }

  get responseHeaders(): Record<string, string> {
    if (this.#responseHeaders instanceof Headers) {
      this.#responseHeaders = pick(this.#responseHeaders, this.#names);
    }
    return this.#responseHeaders;
  }

  toJSON(): RecordedRequest {
    const { method, path, query, url, status, requestHeaders, responseHeaders } = this;
    const { requestBytes, responseBytes, duration, faults } = this;
    return {
      method,
      path,
      query,
      url,
      status,
      requestHeaders,
      responseHeaders,
      requestBytes,
      responseBytes,
      duration,
      faults,
    };
  }
}

function toPredicate(
  filter?: RequestFilter | ((r: RecordedRequest) => boolean),
): (r: RecordedRequest) => boolean {
  if (!filter) return () => true;
  if (typeof filter === "function") return filter;
  const methods = filter.method === undefined ? undefined : ([] as string[]).concat(filter.method);
  const statuses = filter.status === undefined ? undefined : ([] as number[]).concat(filter.status);
  const path = filter.path === undefined ? undefined : pathPattern(filter.path);
  return (r) =>
    (!methods || methods.includes(r.method)) &&
    (!statuses || statuses.includes(r.status)) &&
    (!path || path.test(r.path)) &&
    (filter.faulted === undefined || filter.faulted === r.faults.length > 0);
}

/** A recorder: the log, and the wrapper that fills it. */
export interface Recorder {
  /** The log. */
  log: RequestLog;
  /** Wrap a handler so every request through it is recorded; `markOf` tells what faults did. */
  wrap(next: Handler, markOf?: (request: Request) => FaultMark | undefined): Handler;
}

/** Count bytes of a request body as the handler reads it. */
function countingRequest(request: Request, entry: Recorded): Request {
  const body = request.body!;
  const counted = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        entry.requestBytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  return new Request(request, { body: counted, duplex: "half" } as RequestInit);
}

/**
 * A request recorder. Test registries make one for you (`registry.requests`); use this to record
 * requests to any fetch handler.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { createRecorder } from "fetch-registry/testing";
 * const recorder = createRecorder();
 * const fetch = recorder.wrap(createRegistry().fetch);
 * await fetch(new Request("http://x/v2/"));
 * recorder.log.summary(); // ["GET /v2/ 200"]
 * ```
 */
export function createRecorder(options: RecorderOptions = {}): Recorder {
  const names = options.headers ?? DEFAULT_RECORDED_HEADERS;
  const limit = options.limit ?? 10_000;
  let entries: Recorded[] = [];

  const log: RequestLog = {
    get all() {
      return [...entries];
    },
    get length() {
      return entries.length;
    },
    last(filter) {
      const test = toPredicate(filter);
      for (let i = entries.length - 1; i >= 0; i--) if (test(entries[i])) return entries[i];
      return undefined;
    },
    filter(filter) {
      return entries.filter(toPredicate(filter));
    },
    count(filter) {
      return filter ? entries.filter(toPredicate(filter)).length : entries.length;
    },
    summary() {
      return entries.map((r) => `${r.method} ${r.path}${r.query} ${r.status}`);
    },
    clear() {
      entries = [];
    },
    [Symbol.iterator]() {
      return [...entries][Symbol.iterator]();
    },
  };

  return {
    log,
    wrap(next, markOf) {
      return async (request) => {
        const started = performance.now();
        const entry = new Recorded(request, names);
        entries.push(entry);
        // Drop the oldest in batches (a tenth of the limit), not one array copy per request.
        if (entries.length > limit) {
          entries = entries.slice(entries.length - limit + Math.floor(limit / 10));
        }
        let forwarded = request;
        if (request.body !== null) {
          const declared = request.headers.get("Content-Length");
          if (declared !== null && /^\d+$/.test(declared)) entry.requestBytes = Number(declared);
          else forwarded = countingRequest(request, entry);
        }
        try {
          const response = await next(forwarded);
          entry.duration = performance.now() - started;
          entry.status = response.status;
          entry.setResponse(response.headers);
          const mark = markOf?.(forwarded);
          if (mark) entry.faults = mark.names;
          if (mark?.cutAfter !== undefined) {
            entry.responseBytes = mark.cutAfter;
          } else if (response.body !== null && request.method !== "HEAD") {
            entry.responseBytes = Number(response.headers.get("Content-Length") ?? 0) || 0;
          }
          return response;
        } catch (error) {
          entry.duration = performance.now() - started;
          throw error;
        }
      };
    },
  };
}
