/**
 * Deterministic fault injection around a registry's `fetch`: rules matched by method, path and
 * count answer with an error status and OCI code, add latency, cut response bodies, add
 * `Warning` headers, or redirect (blob GETs) elsewhere. The registry's handler is not touched;
 * with no rule set, requests go straight through.
 *
 * @module
 */
import { ERROR_CODES } from "../errors.ts";
import { createRouter, type RouteName } from "../router.ts";
import { pathPattern } from "./glob.ts";

/** A fetch handler. */
export type Handler = (request: Request) => Promise<Response>;

/**
 * A fault rule: which requests it matches, which of those it acts on, and what it does.
 *
 * Matching: every given criterion must hold (`method`, `path`, `route`, `match`). Counting: each
 * rule counts the requests it matches, in arrival order, from 1; `nth`, `first` or `every` pick
 * which of them it acts on (default: all). Effects of every rule acting on a request combine:
 * latencies add up, headers and warnings are all added, the smallest `cutAfter` wins, and the first
 * rule (in the order added) with a `status`, `body` or `redirect` answers instead of the registry.
 */
export interface FaultRule {
  /** A name for the recording (`RecordedRequest.faults`) and error details. Default `fault-<n>`. */
  name?: string;
  /** Method(s) to match, e.g. `"GET"` or `["PUT", "PATCH"]`. Default: any. */
  method?: string | string[];
  /**
   * Path to match (the pathname, without query): a RegExp, or a glob where `*` matches within one
   * segment and `**` across segments, e.g. `/v2/**\/blobs/sha256:*`. Default: any.
   */
  path?: string | RegExp;
  /**
   * Registry route(s) to match: `base`, `catalog`, `uploads` (POST a session), `upload` (a
   * session), `blob`, `manifest`, `tags`, `referrers`. Default: any.
   */
  route?: RouteName | RouteName[];
  /** Any other condition on the request. */
  match?: (request: Request) => boolean;
  /** Act only on the nth matching request (1-based). */
  nth?: number;
  /** Act on the first k matching requests. */
  first?: number;
  /** Act on every k-th matching request (the k-th, 2k-th, ...). */
  every?: number;

  /** Answer with this status instead of calling the registry, with an OCI error body. */
  status?: number;
  /** OCI error code of the body. Default: the usual code for `status` (429 TOOMANYREQUESTS...). */
  code?: string;
  /** Error message. Default: the code's usual message. */
  message?: string;
  /** Error detail. Default `{ fault: <name> }`. */
  detail?: unknown;
  /** A raw body instead of the OCI error body (e.g. a proxy's HTML page); status defaults to 500. */
  body?: string;
  /** Add `Retry-After` (seconds, or an HTTP date). */
  retryAfter?: number | string;
  /** Headers to add to the response (answered or passed through). */
  headers?: Record<string, string>;
  /** Milliseconds to wait before answering (or passing the request on). */
  latency?: number;
  /** Deliver only this many bytes of the response body. */
  cutAfter?: number;
  /**
   * How a cut body ends: `"error"` (default) fails the stream after `cutAfter` bytes, as a dropped
   * connection does (Content-Length kept); `"end"` ends it cleanly and drops Content-Length, so a
   * client sees a short body it must catch by size or digest.
   */
  cutMode?: "error" | "end";
  /** Add `Warning` header(s); text without a code becomes `299 - "<text>"`. */
  warning?: string | string[];
  /**
   * Answer a redirect to this URL (a function gets the request's URL and the request), e.g. to
   * serve blob GETs from another server.
   */
  redirect?: string | ((url: URL, request: Request) => string);
  /** Status of a redirect. Default 307. */
  redirectStatus?: number;
}

/** A rule once added: its counters, and a way to remove it. */
export interface FaultHandle {
  /** The rule's name. */
  readonly name: string;
  /** The rule as added. */
  readonly rule: Readonly<FaultRule>;
  /** Requests matched so far (whether acted on or not). */
  readonly matched: number;
  /** Requests acted on so far. */
  readonly applied: number;
  /** Remove the rule. */
  remove(): void;
}

/** What the faults did to one request (for the recorder). */
export interface FaultMark {
  /** Names of the rules that acted. */
  names: string[];
  /** Body bytes delivered when the body was cut. */
  cutAfter?: number;
}

/** The fault rules of a test registry. */
export interface Faults {
  /**
   * Add a rule; it applies to requests from now on.
   *
   * @example
   * ```ts
   * // the first two blob GETs answer 503, then the registry answers
   * registry.faults.add({ route: "blob", method: "GET", first: 2, status: 503, retryAfter: 0 });
   * // every third manifest PUT is rate-limited
   * registry.faults.add({ route: "manifest", method: "PUT", every: 3, status: 429, retryAfter: 1 });
   * // the 1st layer download drops the connection after 100 bytes
   * registry.faults.add({ path: "/v2/**\/blobs/*", nth: 1, cutAfter: 100 });
   * ```
   */
  add(rule: FaultRule): FaultHandle;
  /**
   * Remove every rule (counters go with them).
   *
   * @example
   * ```ts
   * afterEach(() => registry.faults.reset());
   * ```
   */
  reset(): void;
  /** The rules in force, in the order added. */
  readonly rules: readonly FaultHandle[];
}

/** Faults plus the hooks the test registry wires in. */
export interface FaultInjector extends Faults {
  /** Wrap a handler: with no rule it is called directly. */
  wrap(next: Handler): Handler;
  /** What the faults did to `request`, if anything. */
  markOf(request: Request): FaultMark | undefined;
}

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

function positiveInteger(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`fault rule: ${what} must be a positive integer, got ${value}`);
  }
}

function sleep(ms: number): Promise<void> {
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

interface LiveRule {
  rule: FaultRule;
  name: string;
  methods?: Set<string>;
  path?: RegExp;
  routes?: Set<string>;
  matched: number;
  applied: number;
}

/** Options of {@link createFaults}. */
export interface FaultsOptions {
  /** The registry's mount prefix, for `route` matching. Default "". */
  basePath?: string;
}

/**
 * A fault injector. Test registries make one for you (`registry.faults`); use this to put faults
 * in front of any fetch handler.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { createFaults } from "fetch-registry/testing";
 * const registry = createRegistry();
 * const faults = createFaults();
 * const fetch = faults.wrap(registry.fetch);
 * faults.add({ path: "/v2/", status: 503 });
 * (await fetch(new Request("http://x/v2/"))).status; // 503
 * ```
 */
export function createFaults(options: FaultsOptions = {}): FaultInjector {
  let live: LiveRule[] = [];
  let added = 0;
  const marks = new WeakMap<Request, FaultMark>();
  let router: ReturnType<typeof createRouter> | undefined;

  function matches(r: LiveRule, request: Request, url: URL): boolean {
    if (r.methods && !r.methods.has(request.method)) return false;
    if (r.path && !r.path.test(url.pathname)) return false;
    if (r.routes) {
      router ??= createRouter(options.basePath);
      const m = router.match(request.method, url.pathname);
      if (!m || !r.routes.has(m.route)) return false;
    }
    return !r.rule.match || r.rule.match(request);
  }

  function selects(r: LiveRule): boolean {
    const n = r.matched;
    const { nth, first, every } = r.rule;
    if (nth !== undefined) return n === nth;
    if (first !== undefined) return n <= first;
    if (every !== undefined) return n % every === 0;
    return true;
  }

  function answer(r: LiveRule, request: Request, url: URL): Response {
    const rule = r.rule;
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
        errors: [{ code, message, detail: rule.detail ?? { fault: r.name } }],
      });
      headers.set("Content-Type", "application/json");
    }
    if (request.method === "HEAD") return new Response(null, { status, headers });
    headers.set("Content-Length", String(new TextEncoder().encode(body).byteLength));
    return new Response(body, { status, headers });
  }

  async function inject(next: Handler, request: Request): Promise<Response> {
    const url = new URL(request.url);
    const acting: LiveRule[] = [];
    for (const r of live) {
      if (!matches(r, request, url)) continue;
      r.matched++;
      if (selects(r)) {
        r.applied++;
        acting.push(r);
      }
    }
    if (acting.length === 0) return next(request);
    const mark: FaultMark = { names: acting.map((r) => r.name) };
    marks.set(request, mark);

    const latency = acting.reduce((sum, r) => sum + (r.rule.latency ?? 0), 0);
    if (latency > 0) await sleep(latency);

    const answering = acting.find((r) =>
      r.rule.status !== undefined || r.rule.body !== undefined || r.rule.redirect !== undefined
    );
    if (answering) {
      // The request is not passed on: drop its body so the client's upload is not left hanging.
      request.body?.cancel().catch(() => {});
    }
    const response = answering ? answer(answering, request, url) : await next(request);

    const extra: Array<[string, string]> = [];
    for (const r of acting) {
      if (r.rule.retryAfter !== undefined) extra.push(["Retry-After", String(r.rule.retryAfter)]);
      for (const [k, v] of Object.entries(r.rule.headers ?? {})) extra.push([k, v]);
      const warnings = r.rule.warning === undefined ? [] : ([] as string[]).concat(r.rule.warning);
      for (const w of warnings) extra.push(["Warning", warningValue(w)]);
    }
    const cuts = acting.filter((r) => r.rule.cutAfter !== undefined);
    const cut = cuts.length
      ? cuts.reduce((a, b) => (b.rule.cutAfter! < a.rule.cutAfter! ? b : a))
      : undefined;

    if (extra.length === 0 && !(cut && response.body)) return response;
    if (!(cut && response.body)) {
      // Headers only: change them in place, so the body (a Blob Bun can send with sendfile and a
      // Content-Length, say) reaches the server untouched. Fetched responses have immutable
      // headers: rebuild those.
      try {
        addHeaders(response.headers, extra);
        return response;
      } catch {
        const headers = new Headers(response.headers);
        addHeaders(headers, extra);
        return new Response(response.body, {
          status: response.status,
          statusText: response.statusText,
          headers,
        });
      }
    }
    const headers = new Headers(response.headers);
    addHeaders(headers, extra);
    const limit = cut!.rule.cutAfter!;
    const mode = cut!.rule.cutMode ?? "error";
    const declared = Number(headers.get("Content-Length") ?? NaN);
    mark.cutAfter = Number.isNaN(declared) ? limit : Math.min(limit, declared);
    if (mode === "end") headers.delete("Content-Length");
    const body = cutBody(response.body!, limit, mode);
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }

  const faults: FaultInjector = {
    add(rule) {
      const given = [rule.nth, rule.first, rule.every].filter((v) => v !== undefined).length;
      if (given > 1) throw new TypeError("fault rule: give at most one of nth, first, every");
      positiveInteger(rule.nth, "nth");
      positiveInteger(rule.first, "first");
      positiveInteger(rule.every, "every");
      if (rule.redirect !== undefined && (rule.status !== undefined || rule.body !== undefined)) {
        throw new TypeError("fault rule: redirect cannot be combined with status or body");
      }
      if (rule.cutAfter !== undefined && (!Number.isInteger(rule.cutAfter) || rule.cutAfter < 0)) {
        throw new RangeError(
          `fault rule: cutAfter must be a non-negative integer, got ${rule.cutAfter}`,
        );
      }
      added++;
      const methods = rule.method === undefined
        ? undefined
        : new Set(([] as string[]).concat(rule.method).map((m) => m.toUpperCase()));
      const path = rule.path === undefined ? undefined : pathPattern(rule.path);
      const routes = rule.route === undefined
        ? undefined
        : new Set<string>(([] as string[]).concat(rule.route));
      const r: LiveRule = {
        rule,
        name: rule.name ?? `fault-${added}`,
        methods,
        path,
        routes,
        matched: 0,
        applied: 0,
      };
      live = [...live, r];
      const handle: FaultHandle = {
        name: r.name,
        rule,
        get matched() {
          return r.matched;
        },
        get applied() {
          return r.applied;
        },
        remove() {
          live = live.filter((x) => x !== r);
          const i = handles.indexOf(handle);
          if (i >= 0) handles.splice(i, 1);
        },
      };
      handles.push(handle);
      return handle;
    },
    reset() {
      live = [];
      handles.length = 0;
    },
    get rules() {
      return [...handles];
    },
    wrap(next) {
      return (request) => (live.length === 0 ? next(request) : inject(next, request));
    },
    markOf(request) {
      return marks.get(request);
    },
  };
  const handles: FaultHandle[] = [];
  return faults;
}
