/**
 * One builder for every `Location` and `Link` the registry sends. Paths are relative to the
 * server (no scheme or host), so they work behind proxies, prefixed with the mount path.
 *
 * @module
 */

/** Paging parameters of a listing link. */
export interface PageQuery {
  /** Page size. */
  n?: number;
  /** Last entry of the previous page. */
  last?: string;
}

/** Builds registry paths. */
export interface UrlBuilder {
  /** `/v2/` */
  base(): string;
  /** `/v2/<name>/blobs/<digest>` */
  blob(name: string, digest: string): string;
  /** `/v2/<name>/manifests/<reference>` */
  manifest(name: string, reference: string): string;
  /** `/v2/<name>/blobs/uploads/<id>` */
  upload(name: string, id: string): string;
  /** `/v2/<name>/tags/list[?n=&last=]` */
  tags(name: string, page?: PageQuery): string;
  /** `/v2/_catalog[?n=&last=]` */
  catalog(page?: PageQuery): string;
  /** `/v2/<name>/referrers/<digest>` */
  referrers(name: string, digest: string): string;
}

function query(page: PageQuery | undefined): string {
  if (!page) return "";
  const params = new URLSearchParams();
  if (page.n !== undefined) params.set("n", String(page.n));
  if (page.last !== undefined) params.set("last", page.last);
  const s = params.toString();
  return s ? `?${s}` : "";
}

/**
 * Create the URL builder for a registry mounted at `basePath` (`""` for the root).
 *
 * @example
 * ```ts
 * const urls = createUrlBuilder("/registry");
 * urls.upload("library/alpine", "abc"); // "/registry/v2/library/alpine/blobs/uploads/abc"
 * urls.tags("a", { n: 10, last: "v1" }); // "/registry/v2/a/tags/list?n=10&last=v1"
 * ```
 */
export function createUrlBuilder(basePath = ""): UrlBuilder {
  const root = `${basePath.replace(/\/+$/, "")}/v2/`;
  return {
    base: () => root,
    blob: (name, digest) => `${root}${name}/blobs/${digest}`,
    manifest: (name, reference) => `${root}${name}/manifests/${reference}`,
    upload: (name, id) => `${root}${name}/blobs/uploads/${id}`,
    tags: (name, page) => `${root}${name}/tags/list${query(page)}`,
    catalog: (page) => `${root}_catalog${query(page)}`,
    referrers: (name, digest) => `${root}${name}/referrers/${digest}`,
  };
}
