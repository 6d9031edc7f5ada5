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

/** Key builders for one prefix. */
export interface Layout {
  /** The normalized prefix (`""` or ending with `/`). */
  prefix: string;
  /** Content of a blob. */
  blob(digest: string): string;
  /** A repository's link to a blob. */
  link(repository: string, digest: string): string;
  /** A stored manifest. */
  manifest(repository: string, digest: string): string;
  /** Prefix of a repository's manifests. */
  manifests(repository: string): string;
  /** A tag. */
  tag(repository: string, tag: string): string;
  /** Prefix of a repository's tags. */
  tags(repository: string): string;
  /** A referrers-index entry. */
  referrer(repository: string, subject: string, digest: string): string;
  /** Prefix of the referrers of `subject`. */
  referrers(repository: string, subject: string): string;
  /** The catalog marker of a repository. */
  catalogEntry(repository: string): string;
  /** Prefix of all catalog markers. */
  catalog: string;
  /** Prefix of all upload sessions. */
  uploads: string;
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
  const p = prefix.replace(/^\/+/, "").replace(/\/*$/, prefix.replace(/^\/+/, "") ? "/" : "");
  const repo = (name: string) => `${p}repositories/${name}/`;
  return {
    prefix: p,
    blob: (digest) => `${p}blobs/${digest.replace(":", "/")}`,
    link: (name, digest) => `${repo(name)}_links/${digest}`,
    manifest: (name, digest) => `${repo(name)}_manifests/${digest}`,
    manifests: (name) => `${repo(name)}_manifests/`,
    tag: (name, tag) => `${repo(name)}_tags/${tag}`,
    tags: (name) => `${repo(name)}_tags/`,
    referrer: (name, subject, digest) => `${repo(name)}_referrers/${subject}/${digest}`,
    referrers: (name, subject) => `${repo(name)}_referrers/${subject}/`,
    catalogEntry: (name) => `${p}catalog/${name}`,
    catalog: `${p}catalog/`,
    uploads: `${p}uploads/`,
    upload: (id) => `${p}uploads/${id}/`,
    uploadState: (id) => `${p}uploads/${id}/state`,
    uploadData: (id) => `${p}uploads/${id}/data`,
    uploadTail: (id, token) => `${p}uploads/${id}/tail-${token}`,
  };
}
