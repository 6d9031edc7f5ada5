/**
 * The media types the testing toolkit seeds and asks for.
 *
 * @module
 */
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../media_types.ts";

/**
 * OCI media types used by the seeder.
 *
 * @example
 * ```ts
 * await registry.fetch("/v2/app/manifests/latest", { headers: { Accept: MEDIA_TYPES.index } });
 * ```
 */
export const MEDIA_TYPES = {
  /** OCI image manifest. */
  manifest: OCI_MANIFEST,
  /** OCI image index. */
  index: OCI_INDEX,
  /** OCI image config. */
  config: "application/vnd.oci.image.config.v1+json",
  /** OCI layer, uncompressed tar. */
  layer: "application/vnd.oci.image.layer.v1.tar",
  /** OCI layer, gzip-compressed tar. */
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  /** The empty descriptor (`{}`), for artifacts without config or layers. */
  empty: OCI_EMPTY,
  /** Docker image manifest, schema 2. */
  dockerManifest: DOCKER_MANIFEST,
  /** Docker manifest list. */
  dockerManifestList: DOCKER_MANIFEST_LIST,
  /** Docker image config. */
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  /** Docker layer (gzip by name; the seeder does not compress). */
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/**
 * An `Accept` header listing every manifest type the registry serves.
 *
 * @example
 * ```ts
 * await registry.fetch("/v2/app/manifests/latest", { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
 * ```
 */
export const ACCEPT_ALL_MANIFESTS: string = [
  MEDIA_TYPES.manifest,
  MEDIA_TYPES.index,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
  "*/*",
].join(", ");
