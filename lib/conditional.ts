/**
 * Conditional requests shared by the blob and manifest routes.
 *
 * @module
 */

/**
 * Whether an `If-None-Match` value names `etag`: `*`, or any listed entity tag under the weak
 * comparison RFC 9110 §13.1.2 prescribes for If-None-Match (a `W/` prefix does not matter).
 *
 * @example
 * ```ts
 * matchesIfNoneMatch(`W/"sha256:ab", "x"`, `"sha256:ab"`); // true
 * ```
 */
export function matchesIfNoneMatch(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((entry) => {
    const tag = entry.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}
