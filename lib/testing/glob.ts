/**
 * Path globs for fault rules and request-log filters: `*` matches within one path segment, `**`
 * across segments (repository names contain slashes).
 *
 * @module
 */

/**
 * Compile a path glob to an anchored RegExp; a RegExp passes through.
 *
 * @example
 * ```ts
 * pathPattern("/v2/**\/blobs/sha256:*").test("/v2/library/alpine/blobs/sha256:abc"); // true
 * pathPattern("/v2/*\/tags/list").test("/v2/a/b/tags/list"); // false: * stays within a segment
 * ```
 */
export function pathPattern(pattern: string | RegExp): RegExp {
  if (typeof pattern !== "string") return pattern;
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      out += ".*";
      i++;
    } else if (c === "*") {
      out += "[^/]*";
    } else {
      out += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${out}$`);
}
