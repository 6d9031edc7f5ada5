/**
 * Query-string redaction for logs: values of the registry's own parameters are kept, every other
 * value (signatures, credentials, tokens of signed URLs) is replaced.
 *
 * @module
 */

/** Query parameters whose values are logged as they are: the registry's own, none secret. */
export const LOGGED_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  "digest",
  "digest-algorithm",
  "mount",
  "from",
  "n",
  "last",
  "tag",
  "artifactType",
  "service",
  "scope",
]);

/** What a redacted value is replaced with. */
export const REDACTED = "REDACTED";

/**
 * `pathname` plus `search` with every parameter value not in {@link LOGGED_QUERY_PARAMETERS}
 * replaced by `REDACTED` (names are kept, so the shape of the request stays visible).
 *
 * @example
 * ```ts
 * redactedTarget(new URL("http://x/v2/a/blobs/d?X-Amz-Signature=abc&n=1"));
 * // "/v2/a/blobs/d?X-Amz-Signature=REDACTED&n=1"
 * ```
 */
export function redactedTarget(url: URL): string {
  if (url.search === "") return url.pathname;
  const parts: string[] = [];
  for (const [name, value] of url.searchParams) {
    const kept = LOGGED_QUERY_PARAMETERS.has(name) ? value : REDACTED;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(kept)}`);
  }
  return `${url.pathname}?${parts.join("&")}`;
}
