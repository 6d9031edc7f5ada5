/**
 * The access-log line: one per request, `time method path status in=BYTES out=BYTES ms`.
 *
 * @module
 */
import { LOGGED_QUERY_PARAMETERS, REDACTED } from "../observe/redact.ts";
import type { RequestLogEntry } from "./types.ts";

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

/**
 * The target as logged: the path, and the query with every value but the registry's own
 * parameters replaced by `REDACTED` (signed URLs, tokens; as the JSON log does); an absolute-form
 * target loses its scheme, host and userinfo.
 */
function loggedTarget(target: string): string {
  const path = target.startsWith("/")
    ? target
    : target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "");
  const q = path.indexOf("?");
  if (q < 0) return path || "/";
  const query = path.slice(q + 1).split("&").map((part) => {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || LOGGED_QUERY_PARAMETERS.has(decodedName(name))) return part;
    return `${name}=${REDACTED}`;
  });
  return `${path.slice(0, q) || "/"}?${query.join("&")}`;
}

/**
 * Format one request as a log line:
 * `<ISO time> <method> <path> <status> in=<bytes> out=<bytes> <ms>ms`, with ` aborted` appended
 * when the client went away first. Query values other than the registry's own parameters are
 * logged as `REDACTED` (see `redactedTarget`). `in` counts the request body bytes received, `out` the response
 * body bytes sent.
 *
 * @example
 * ```ts
 * formatRequestLog(
 *   { method: "GET", path: "/v2/", status: 200, bytesIn: 0, bytesOut: 2, bytes: 2, ms: 0.42, aborted: false },
 *   new Date(0),
 * );
 * // "1970-01-01T00:00:00.000Z GET /v2/ 200 in=0 out=2 0.4ms"
 * ```
 */
export function formatRequestLog(entry: RequestLogEntry, now: Date = new Date()): string {
  const ms = entry.ms < 10 ? entry.ms.toFixed(1) : String(Math.round(entry.ms));
  // Request targets never hold spaces or controls on a valid request; keep one entry per line
  // even for a hostile one.
  // deno-lint-ignore no-control-regex
  const path = loggedTarget(entry.path).replace(/[\s\x00-\x1f\x7f]/g, (c) => encodeURIComponent(c));
  const line = `${now.toISOString()} ${entry.method} ${path} ${entry.status} in=${entry.bytesIn} ` +
    `out=${entry.bytesOut} ${ms}ms`;
  return entry.aborted ? `${line} aborted` : line;
}

/** A pattern matching one {@link formatRequestLog} line, with groups for each field. */
export const REQUEST_LOG_PATTERN: RegExp =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([A-Z]+) (\S+) (\d{1,3}) in=(\d+) out=(\d+) (\d+(?:\.\d)?)ms( aborted)?$/;
