/**
 * The object keys the bucket adapters (s3Storage, r2Storage) share, under an optional prefix:
 *
 * ```
 * blobs/<algorithm>/<hex>                           a blob (content on S3, a record on R2)
 * repositories/<name>/_links/<digest>               a repository's link to a blob
 * repositories/<name>/_manifests/<digest>           manifest bytes
 * repositories/<name>/_tags/<tag>                   body: the digest
 * repositories/<name>/_referrers/<subject>/<digest> body: the referrer's descriptor (JSON)
 * catalog/<name>                                    marker: the repository holds a manifest
 * uploads/                                          upload sessions (each adapter's own keys)
 * ```
 *
 * Repository path components never start with `_` (name grammar), so `_links`, `_tags`, ... never
 * collide with a nested repository; tags never contain `/`.
 *
 * @module
 */

/** Key builders for one prefix. */
export interface BucketKeys {
  /** The normalized prefix (`""` or ending with `/`). */
  prefix: string;
  /** A blob. */
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
}

/**
 * The shared keys under `prefix` (leading slashes dropped, a trailing one added).
 *
 * @example
 * ```ts
 * bucketKeys("reg").tag("lib/app", "latest"); // "reg/repositories/lib/app/_tags/latest"
 * ```
 */
export function bucketKeys(prefix = ""): BucketKeys {
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  const p = trimmed ? `${trimmed}/` : "";
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
  };
}
