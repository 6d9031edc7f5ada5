/**
 * Media types the registry knows.
 *
 * @module
 */

/** OCI image manifest. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index. */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** Docker image manifest, schema 2. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list. */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker schema 1 (obsolete, refused). */
export const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
/** Docker schema 1, signed (obsolete, refused). */
export const DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/** The empty descriptor's media type (artifacts with no config). */
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";

/** Image manifests: a config and layers. */
export const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
/** Indexes: a list of manifests. */
export const INDEX_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);

/** Layer media types whose blobs are not pushed to registries (not checked for existence). */
export function isNonDistributable(mediaType: string): boolean {
  return mediaType.includes(".foreign.") || mediaType.includes(".nondistributable.");
}

/** A media type without parameters, lower-cased: `application/json; charset=x` → `application/json`. */
export function bareMediaType(value: string | null): string {
  return (value ?? "").split(";")[0].trim().toLowerCase();
}
