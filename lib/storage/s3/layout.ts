/**
 * The key layout of the S3 storage adapter, in one place. Under an optional prefix:
 *
 * ```
 * blobs/<algorithm>/<hex>                          blob content, stored once
 * repositories/<name>/_links/<digest>              a repository's link to a blob (x-amz-meta-size)
 * repositories/<name>/_manifests/<digest>          manifest bytes (Content-Type, x-amz-meta-subject)
 * repositories/<name>/_tags/<tag>                  body: the digest (ETag = MD5 of it)
 * repositories/<name>/_referrers/<subject>/<digest> body: the referrer's descriptor (JSON)
 * catalog/<name>                                   marker: the repository holds a manifest
 * uploads/<id>/state                               upload session state (JSON, conditional writes)
 * uploads/<id>/tail-<token>                        bytes received that do not fill a part yet
 * uploads/<id>/data                                the multipart upload's (temporary) object
 * ```
 *
 * Repository path components never start with `_` (name grammar), so `_links`, `_tags`, ... never
 * collide with a nested repository; tags never contain `/`. Listing the tags of a repository lists
 * only its `_tags/` keys; the catalog lists only `catalog/` keys.
 *
 * @module
 */
import { type BucketKeys, bucketKeys } from "../bucket_keys.ts";

/** Key builders for one prefix: the shared bucket keys and the S3 upload session's own. */
export interface Layout extends BucketKeys {
  /** Prefix of one upload session's objects. */
  upload(id: string): string;
  /** An upload session's state. */
  uploadState(id: string): string;
  /** An upload session's multipart (then temporary) object. */
  uploadData(id: string): string;
  /** A pending tail of an upload session, unique per append. */
  uploadTail(id: string, token: string): string;
}

/**
 * The layout under `prefix` (leading slashes dropped, a trailing one added).
 *
 * @example
 * ```ts
 * createLayout("reg").tag("lib/app", "latest"); // "reg/repositories/lib/app/_tags/latest"
 * ```
 */
export function createLayout(prefix = ""): Layout {
  const keys = bucketKeys(prefix);
  const p = keys.prefix;
  return {
    ...keys,
    upload: (id) => `${p}uploads/${id}/`,
    uploadState: (id) => `${p}uploads/${id}/state`,
    uploadData: (id) => `${p}uploads/${id}/data`,
    uploadTail: (id, token) => `${p}uploads/${id}/tail-${token}`,
  };
}
