/**
 * The seeder's types: what it takes (content, layers, options per kind of push), what it answers
 * (seeded manifests with their exact bytes and descriptors), and the {@link Seeder} interface.
 *
 * @module
 */
import type { Content, OciDescriptor, Platform } from "./content.ts";

/** A layer (or artifact blob) with its own media type or annotations. */
export interface LayerInput {
  /** The layer's bytes. */
  content: Content;
  /** Media type. Default: an uncompressed OCI layer (images), `application/octet-stream` (artifacts). */
  mediaType?: string;
  /** Descriptor annotations. */
  annotations?: Record<string, string>;
}

/** One or more tags to point at what is pushed. */
export type TagOption = string | string[];

/** An OCI image manifest (or artifact manifest) as JSON. */
export interface ImageManifestJson {
  /** Always 2. */
  schemaVersion: 2;
  /** The manifest's media type. */
  mediaType: string;
  /** Artifact type (artifacts). */
  artifactType?: string;
  /** The config blob. */
  config: OciDescriptor;
  /** The layers, base first. */
  layers: OciDescriptor[];
  /** The manifest this one refers to (signatures, SBOMs...). */
  subject?: OciDescriptor;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** An OCI image index (or Docker manifest list) as JSON. */
export interface ImageIndexJson {
  /** Always 2. */
  schemaVersion: 2;
  /** The index's media type. */
  mediaType: string;
  /** Artifact type. */
  artifactType?: string;
  /** The child manifests, with platforms. */
  manifests: OciDescriptor[];
  /** The manifest this one refers to. */
  subject?: OciDescriptor;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** Something pushed as a manifest: where it is, what it is, and its exact bytes. */
export interface SeededManifest {
  /** Repository it was pushed to. */
  repository: string;
  /** Its digest. */
  digest: string;
  /** Its media type (the Content-Type it was pushed with). */
  mediaType: string;
  /** Its size in bytes. */
  size: number;
  /** The exact bytes pushed. */
  bytes: Uint8Array;
  /** The tags pointed at it while seeding. */
  tags: string[];
  /** `{ mediaType, digest, size }`: use it as an index child or an artifact's subject. */
  descriptor: OciDescriptor;
  /** The manifest as JSON. */
  manifest: ImageManifestJson | ImageIndexJson | Record<string, unknown>;
}

/** A seeded image manifest, with its config and layer descriptors. */
export interface SeededImage extends SeededManifest {
  /** The manifest as JSON. */
  manifest: ImageManifestJson;
  /** The config descriptor. */
  config: OciDescriptor;
  /** The layer descriptors, in order. */
  layers: OciDescriptor[];
  /** The platform written in the config (and used when the image joins an index). */
  platform: Platform;
}

/** A seeded index, with its children. */
export interface SeededIndex extends SeededManifest {
  /** The index as JSON. */
  manifest: ImageIndexJson;
  /** The children, in order. */
  manifests: SeededManifest[];
}

/** Options of {@link Seeder.image}. */
export interface ImageOptions {
  /** Tag(s) to point at the image. Default: none (pushed by digest). */
  tag?: TagOption;
  /** Layers, base first: content, or content with a media type. Default: none. */
  layers?: Array<Content | LayerInput>;
  /**
   * The config: a JSON object (missing `architecture`, `os` and `rootfs` are filled in from the
   * platform and layers) or raw content. Default: a minimal valid config.
   */
  config?: Record<string, unknown> | Content;
  /** Media type of the config. Default: the OCI (or Docker) image config type. */
  configMediaType?: string;
  /** `"os/arch[/variant]"` or an object. Default `linux/amd64`. */
  platform?: string | Platform;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
  /** Manifest `artifactType`. */
  artifactType?: string;
  /** Make the image refer to this manifest (it then appears in the subject's referrers). */
  subject?: SeededManifest | OciDescriptor;
  /** `oci` (default) or `docker` (schema 2 media types). */
  format?: "oci" | "docker";
}

/** Options of {@link Seeder.index}. */
export interface IndexOptions {
  /** Tag(s) to point at the index. Default: none (pushed by digest). */
  tag?: TagOption;
  /** Children: images to seed first (by their options), or manifests already seeded. */
  manifests: Array<ImageOptions | SeededManifest>;
  /** Index annotations. */
  annotations?: Record<string, string>;
  /** Index `artifactType`. */
  artifactType?: string;
  /** Make the index refer to this manifest. */
  subject?: SeededManifest | OciDescriptor;
  /** `oci` (default) or `docker` (a manifest list; children are Docker manifests too). */
  format?: "oci" | "docker";
}

/** Options of {@link Seeder.artifact}. */
export interface ArtifactOptions {
  /** The artifact's type, e.g. `application/vnd.example.sbom.v1+json`. */
  artifactType: string;
  /** The manifest the artifact refers to (signature, SBOM, attestation...). */
  subject?: SeededManifest | OciDescriptor;
  /** Its blobs. Default: the single empty descriptor, as the image spec recommends. */
  blobs?: Array<Content | LayerInput>;
  /** A config blob and its media type. Default: the empty descriptor. */
  config?: { content: Content; mediaType: string };
  /** Manifest annotations. */
  annotations?: Record<string, string>;
  /** Tag(s) to point at the artifact. Default: none. */
  tag?: TagOption;
}

/** Options of {@link Seeder.manifest}. */
export interface ManifestOptions {
  /** Content-Type to push with. Default: the JSON's `mediaType`, else the OCI image manifest. */
  mediaType?: string;
  /** Tag(s). Default: none (pushed by digest). */
  tag?: TagOption;
}

/** Options of {@link Seeder.blob}. */
export interface BlobOptions {
  /** Media type for the returned descriptor. Default `application/octet-stream`. */
  mediaType?: string;
}

/** Pushes content into a registry through its HTTP API. Every method resolves once the registry has answered 201. */
export interface Seeder {
  /**
   * Push one blob (POST an upload session, PUT its bytes with the digest).
   *
   * @example
   * ```ts
   * const d = await registry.seed.blob("app", "hello");
   * d.digest; // "sha256:2cf24dba..."
   * ```
   */
  blob(repository: string, content: Content, options?: BlobOptions): Promise<OciDescriptor>;
  /**
   * Push an image: its layers, its config, then its manifest, under the given tags.
   *
   * @example
   * ```ts
   * const image = await registry.seed.image("library/hello", {
   *   tag: "latest",
   *   layers: ["layer one", new Uint8Array([1, 2, 3]), { file: "./rootfs.tar" }],
   *   config: { config: { Cmd: ["/hello"] } },
   * });
   * image.digest; image.layers[0].digest;
   * ```
   */
  image(repository: string, options?: ImageOptions): Promise<SeededImage>;
  /**
   * Push a multi-platform index and its children.
   *
   * @example
   * ```ts
   * const index = await registry.seed.index("app", {
   *   tag: "1.0",
   *   manifests: [{ platform: "linux/amd64", layers: ["x86"] }, { platform: "linux/arm64", layers: ["arm"] }],
   * });
   * index.manifests[1].digest;
   * ```
   */
  index(repository: string, options: IndexOptions): Promise<SeededIndex>;
  /**
   * Push an artifact (an image manifest with an `artifactType`), usually referring to a subject.
   *
   * @example
   * ```ts
   * const image = await registry.seed.image("app", { tag: "latest" });
   * await registry.seed.artifact("app", {
   *   artifactType: "application/vnd.example.signature",
   *   subject: image,
   *   blobs: ["signature bytes"],
   * });
   * ```
   */
  artifact(repository: string, options: ArtifactOptions): Promise<SeededManifest>;
  /**
   * Push any manifest as given (JSON value or exact bytes); its blobs must already be there.
   *
   * @example
   * ```ts
   * await registry.seed.manifest("app", { schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [] }, {
   *   tag: "empty",
   * });
   * ```
   */
  manifest(
    repository: string,
    manifest: Record<string, unknown> | Uint8Array | string,
    options?: ManifestOptions,
  ): Promise<SeededManifest>;
  /**
   * Point a tag at a manifest already in the repository (GET it by digest, PUT it by tag).
   *
   * @example
   * ```ts
   * const image = await registry.seed.image("app", { tag: "1.0.0" });
   * await registry.seed.tag("app", "latest", image);
   * ```
   */
  tag(repository: string, tag: string, target: SeededManifest | string): Promise<SeededManifest>;
}

/** Options of {@link createSeeder}. */
export interface SeederOptions {
  /** The registry's mount prefix (`RegistryOptions.basePath`). Default "". */
  basePath?: string;
}
