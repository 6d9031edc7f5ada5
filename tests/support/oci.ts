/**
 * Test fixtures: bytes, digests, descriptors and manifests. Digests come from the testing
 * toolkit's `digestOf` (node:crypto, not the registry's hashing module), so that the protocol
 * suite never depends on the code it tests; the media types are the one shared set, pinned to
 * the spec's strings by tests/media_types.test.ts.
 *
 * @module
 */
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../../lib/media_types.ts";
import { digestOf } from "../../lib/testing/content.ts";
import { MEDIA_TYPES } from "../../lib/testing/media_types.ts";

// One set of media types: the registry's own (lib/media_types.ts) and the testing toolkit's
// MEDIA_TYPES built on them; tests/media_types.test.ts pins their values to the spec's strings.
export {
  digestOf,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
};
/** Docker manifest list media type. */
export const DOCKER_LIST: string = DOCKER_MANIFEST_LIST;
/** OCI image config media type. */
export const OCI_CONFIG: string = MEDIA_TYPES.config;
/** OCI gzip layer media type. */
export const OCI_LAYER: string = MEDIA_TYPES.layerGzip;
/** OCI non-distributable layer media type (blob not pushed). */
export const OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/** Docker image config media type. */
export const DOCKER_CONFIG: string = MEDIA_TYPES.dockerConfig;
/** Docker gzip layer media type. */
export const DOCKER_LAYER: string = MEDIA_TYPES.dockerLayer;
/** Docker foreign layer media type (blob not pushed). */
export const DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/** The two bytes `{}`. */
export const EMPTY_JSON: Uint8Array = utf8("{}");
/** Digest of `{}`. */
export const EMPTY_JSON_DIGEST =
  "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/** Digest of zero bytes. */
export const EMPTY_DIGEST =
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * UTF-8 bytes of a string.
 *
 * @example
 * ```ts
 * utf8("{}").length; // 2
 * ```
 */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * Deterministic pseudo-random bytes (xorshift), so failures reproduce.
 *
 * @example
 * ```ts
 * randomBytes(2048, 1).length; // 2048
 * ```
 */
export function randomBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** An OCI/Docker content descriptor. */
export interface Descriptor {
  /** Media type of the referenced content. */
  mediaType: string;
  /** Digest of the referenced content. */
  digest: string;
  /** Size in bytes. */
  size: number;
  /** Artifact type (index entries). */
  artifactType?: string;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Platform (index entries). */
  platform?: { architecture: string; os: string };
  /** Foreign layer URLs. */
  urls?: string[];
}

/**
 * Describe bytes with a media type.
 *
 * @example
 * ```ts
 * describe("application/vnd.oci.empty.v1+json", utf8("{}")).size; // 2
 * ```
 */
export function describe(
  mediaType: string,
  bytes: Uint8Array,
  extra: Partial<Descriptor> = {},
): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
}

/** A manifest ready to PUT: its exact bytes, digest and media type. */
export interface BuiltManifest {
  /** The exact bytes to send. */
  bytes: Uint8Array;
  /** sha256 digest of the bytes. */
  digest: string;
  /** The media type to send as Content-Type. */
  mediaType: string;
  /** Length in bytes. */
  size: number;
  /** Descriptor of this manifest (for indexes and subjects). */
  descriptor: Descriptor;
}

/**
 * Serialise any JSON document as a manifest with the given Content-Type.
 *
 * @example
 * ```ts
 * const m = buildManifest({ schemaVersion: 2 }, "application/vnd.oci.image.manifest.v1+json");
 * ```
 */
export function buildManifest(
  document: unknown,
  mediaType: string,
  indent: number | string = 2,
): BuiltManifest {
  const bytes = utf8(JSON.stringify(document, null, indent));
  const digest = digestOf(bytes);
  return {
    bytes,
    digest,
    mediaType,
    size: bytes.length,
    descriptor: { mediaType, digest, size: bytes.length },
  };
}

/** Parts of an OCI image manifest. */
export interface ImageParts {
  /** Config descriptor. */
  config: Descriptor;
  /** Layer descriptors. */
  layers?: Descriptor[];
  /** Subject (makes this manifest a referrer). */
  subject?: Descriptor;
  /** Artifact type. */
  artifactType?: string;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** `mediaType` field; `null` to leave it out. Default: the OCI manifest type. */
  mediaType?: string | null;
}

/**
 * An OCI image manifest.
 *
 * @example
 * ```ts
 * ociManifest({ config: describe(OCI_EMPTY, EMPTY_JSON) });
 * ```
 */
export function ociManifest(parts: ImageParts): BuiltManifest {
  const doc: Record<string, unknown> = { schemaVersion: 2 };
  if (parts.mediaType !== null) doc.mediaType = parts.mediaType ?? OCI_MANIFEST;
  if (parts.artifactType !== undefined) doc.artifactType = parts.artifactType;
  doc.config = parts.config;
  doc.layers = parts.layers ?? [];
  if (parts.subject) doc.subject = parts.subject;
  if (parts.annotations) doc.annotations = parts.annotations;
  return buildManifest(doc, OCI_MANIFEST);
}

/** Parts of an OCI image index. */
export interface IndexParts {
  /** Child manifest descriptors. */
  manifests: Descriptor[];
  /** Subject. */
  subject?: Descriptor;
  /** Artifact type. */
  artifactType?: string;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/**
 * An OCI image index.
 *
 * @example
 * ```ts
 * ociIndex({ manifests: [] });
 * ```
 */
export function ociIndex(parts: IndexParts): BuiltManifest {
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_INDEX };
  if (parts.artifactType !== undefined) doc.artifactType = parts.artifactType;
  doc.manifests = parts.manifests;
  if (parts.subject) doc.subject = parts.subject;
  if (parts.annotations) doc.annotations = parts.annotations;
  return buildManifest(doc, OCI_INDEX);
}

/**
 * A Docker schema 2 image manifest.
 *
 * @example
 * ```ts
 * dockerManifest(describe(DOCKER_CONFIG, utf8("{}")), []);
 * ```
 */
export function dockerManifest(config: Descriptor, layers: Descriptor[]): BuiltManifest {
  return buildManifest(
    { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers },
    DOCKER_MANIFEST,
    3,
  );
}

/**
 * A Docker manifest list.
 *
 * @example
 * ```ts
 * dockerManifestList([]);
 * ```
 */
export function dockerManifestList(manifests: Descriptor[]): BuiltManifest {
  return buildManifest({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests }, DOCKER_LIST, 3);
}

/**
 * A config blob (an OCI image config with a distinguishing author field).
 *
 * @example
 * ```ts
 * configBlob("a").length > 0; // true
 * ```
 */
export function configBlob(author: string): Uint8Array {
  return utf8(JSON.stringify(
    { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, author },
    null,
    "\t",
  ));
}
