/**
 * The types of fault injection: a rule (what it matches, which matches it acts on, what it does),
 * the handle of an added rule, the record of what acted on a request, and the injector itself.
 *
 * @module
 */
import type { RouteName } from "../router.ts";

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

/** Options of `createFaults`. */
export interface FaultsOptions {
  /** The registry's mount prefix, for `route` matching. Default "". */
  basePath?: string;
}
