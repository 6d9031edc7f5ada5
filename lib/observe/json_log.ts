/**
 * Structured access logs: one JSON object per request, on one line. Headers are never logged
 * (so neither is `Authorization`), and query values other than the registry's own parameters are
 * redacted (signed URLs, tokens).
 *
 * @module
 */
import { redactedTarget } from "./redact.ts";
import { requestId } from "./request_id.ts";
import { createRouteClassifier } from "./route_label.ts";

/** What the server knows about one finished request. */
export interface JsonLogInput {
  /** The request. */
  request: Request;
  /** Response status (0 when no response was sent). */
  status: number;
  /** Request body bytes received. */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
  /** Milliseconds from the request to the end of the response. */
  durationMs: number;
  /** The client's address (`ip:port`), when the server knows it. */
  remoteAddr?: string;
  /** The authenticated identity's name, when an access-control stage knows it. */
  identity?: string;
  /** The client went away before the response ended. */
  aborted?: boolean;
  /** When the request ended. Default: now. */
  time?: Date;
}

/** One log record, as serialised (fields absent when unknown). */
export interface JsonLogRecord {
  /** ISO 8601 time the request ended. */
  time: string;
  /** The request id, also sent back as `X-Request-Id`. */
  request_id: string;
  /** HTTP method. */
  method: string;
  /** The registry's route name (`manifest`, `blob`, `upload`, ...) or `unmatched`. */
  route: string;
  /** Repository name, when the route has one. */
  repository?: string;
  /** Path and redacted query. */
  path: string;
  /** Response status. */
  status: number;
  /** Request body bytes. */
  bytes_in: number;
  /** Response body bytes. */
  bytes_out: number;
  /** Duration in milliseconds (0.1 ms precision). */
  duration_ms: number;
  /** User-Agent header. */
  user_agent?: string;
  /** Client address. */
  remote_addr?: string;
  /** Authenticated identity. */
  identity?: string;
  /** Present (true) when the client went away first. */
  aborted?: true;
}

/** How many trailing segments each route with a repository has after the name. */
const TRAILING: Record<string, number> = {
  uploads: 2,
  upload: 3,
  blob: 2,
  manifest: 2,
  tags: 2,
  referrers: 2,
};

/** The (still encoded) repository name in a path the classifier matched to `route`. */
function repositoryOf(pathname: string, base: string, route: string): string | undefined {
  const drop = TRAILING[route];
  if (drop === undefined) return undefined;
  const segments = pathname.slice(base.length + 4).replace(/\/+$/, "").split("/");
  return segments.slice(0, segments.length - drop).join("/");
}

/** Options of {@link createJsonLogFormatter}. */
export interface JsonLogOptions {
  /** The registry's mount prefix, for route matching. Default "". */
  basePath?: string;
}

/**
 * A formatter of one JSON log line per request (no trailing newline).
 *
 * @example
 * ```ts
 * const format = createJsonLogFormatter();
 * const line = format({ request, status: 200, bytesIn: 0, bytesOut: 512, durationMs: 1.2 });
 * // {"time":"…","request_id":"…","method":"GET","route":"manifest","repository":"app",…}
 * ```
 */
export function createJsonLogFormatter(
  options: JsonLogOptions = {},
): (input: JsonLogInput) => string {
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  const classify = createRouteClassifier(base);
  const extra = new Set(["/metrics", "/healthz", "/readyz", "/token"].map((p) => base + p));
  return (input) => {
    const { request } = input;
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      url = new URL("http://invalid/");
    }
    let route: string | undefined = classify(url.pathname);
    if (!route) route = extra.has(url.pathname) ? url.pathname.slice(base.length + 1) : "unmatched";
    const record: JsonLogRecord = {
      time: (input.time ?? new Date()).toISOString(),
      request_id: requestId(request),
      method: request.method,
      route,
      path: redactedTarget(url),
      status: input.status,
      bytes_in: input.bytesIn,
      bytes_out: input.bytesOut,
      duration_ms: Math.round(input.durationMs * 10) / 10,
    };
    const name = repositoryOf(url.pathname, base, route);
    if (name !== undefined) {
      try {
        record.repository = decodeURIComponent(name);
      } catch {
        record.repository = name;
      }
    }
    const agent = request.headers.get("User-Agent");
    if (agent !== null) record.user_agent = agent;
    if (input.remoteAddr !== undefined) record.remote_addr = input.remoteAddr;
    if (input.identity !== undefined) record.identity = input.identity;
    if (input.aborted) record.aborted = true;
    return JSON.stringify(record);
  };
}
