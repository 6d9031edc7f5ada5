/**
 * The key layout of the R2 storage adapter, in one place. Under an optional prefix:
 *
 * ```
 * blobs/<algorithm>/<hex>                           blob record: JSON {size, segments} (metadata size)
 * data/<session>/<token>                            one segment: the bytes of one append
 * repositories/<name>/_links/<digest>               a repository's link to a blob (metadata size)
 * repositories/<name>/_manifests/<digest>           manifest bytes (Content-Type, metadata subject)
 * repositories/<name>/_tags/<tag>                   body: the digest (metadata digest)
 * repositories/<name>/_referrers/<subject>/<digest> body: the referrer's descriptor (JSON)
 * catalog/<name>                                    marker: the repository holds a manifest
 * uploads/<session>                                 upload session state (JSON, conditional writes)
 * ```
 *
 * Repository path components never start with `_` (name grammar), so `_links`, `_tags`, ... never
 * collide with a nested repository; tags never contain `/`.
 *
 * @module
 */
import { type BucketKeys, bucketKeys } from "../bucket_keys.ts";

/** Key builders for one prefix: the shared bucket keys and the R2 adapter's own. */
export interface R2Layout extends BucketKeys {
  /** Prefix of one session's segments. */
  segments(id: string): string;
  /** One segment of a session. */
  segment(id: string, token: string): string;
  /** An upload session's state. */
  upload(id: string): string;
}

/**
 * The layout under `prefix` (leading slashes dropped, a trailing one added).
 *
 * @example
 * ```ts
 * r2Layout("reg").tag("lib/app", "latest"); // "reg/repositories/lib/app/_tags/latest"
 * ```
 */
export function r2Layout(prefix = ""): R2Layout {
  const keys = bucketKeys(prefix);
  const p = keys.prefix;
  return {
    ...keys,
    segments: (id) => `${p}data/${id}/`,
    segment: (id, token) => `${p}data/${id}/${token}`,
    upload: (id) => `${p}uploads/${id}`,
  };
}
