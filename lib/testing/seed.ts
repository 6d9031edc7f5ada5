/**
 * Seeding a registry from code: blobs, images, multi-platform indexes, artifacts with a subject,
 * and tags. Everything is pushed through the registry's own HTTP protocol (upload sessions,
 * manifest PUTs), so what is seeded is exactly what a client would have pushed, on any storage.
 *
 * @module
 */
import {
  type Content,
  isFileContent,
  type OciDescriptor,
  parsePlatform,
  type Platform,
  sha256,
  toBytes,
} from "./content.ts";
import { expectStatus, type Fetcher, send, type Target, v2Path } from "./http.ts";

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
  manifest: "application/vnd.oci.image.manifest.v1+json",
  /** OCI image index. */
  index: "application/vnd.oci.image.index.v1+json",
  /** OCI image config. */
  config: "application/vnd.oci.image.config.v1+json",
  /** OCI layer, uncompressed tar. */
  layer: "application/vnd.oci.image.layer.v1.tar",
  /** The empty descriptor (`{}`), for artifacts without config or layers. */
  empty: "application/vnd.oci.empty.v1+json",
  /** Docker image manifest, schema 2. */
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  /** Docker manifest list. */
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  /** Docker image config. */
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  /** Docker layer (gzip by name; the seeder does not compress). */
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

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

const encoder = new TextEncoder();
const EMPTY_JSON = encoder.encode("{}");
const EMPTY_DESCRIPTOR: OciDescriptor = {
  mediaType: MEDIA_TYPES.empty,
  digest: sha256(EMPTY_JSON),
  size: 2,
};

function tagList(tag: TagOption | undefined): string[] {
  return tag === undefined ? [] : Array.isArray(tag) ? [...tag] : [tag];
}

function isLayerInput(value: Content | LayerInput): value is LayerInput {
  return typeof value === "object" && value !== null && "content" in value && !isFileContent(value);
}

function isSeeded(value: ImageOptions | SeededManifest): value is SeededManifest {
  return "digest" in value && "bytes" in value;
}

function asDescriptor(value: SeededManifest | OciDescriptor): OciDescriptor {
  return "descriptor" in value ? value.descriptor : value;
}

function isContent(value: unknown): value is Content {
  return typeof value === "string" || value instanceof Uint8Array || value instanceof ArrayBuffer ||
    value instanceof Blob || isFileContent(value);
}

/**
 * A {@link Seeder} that pushes through `fetcher` (a registry, a test registry, or anything with
 * `fetch(request)`).
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { createSeeder } from "fetch-registry/testing";
 * const registry = createRegistry();
 * const seed = createSeeder(registry);
 * await seed.image("app", { tag: "latest", layers: ["hello"] });
 * ```
 */
export function createSeeder(fetcher: Fetcher, options: SeederOptions = {}): Seeder {
  const target: Target = { fetcher, basePath: options.basePath };

  async function pushBlob(
    repository: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<OciDescriptor> {
    const digest = sha256(bytes);
    const start = v2Path(target, `${repository}/blobs/uploads/`);
    const session = await expectStatus(await send(target, "POST", start), "POST", start, 202);
    const location = session.headers.get("Location");
    if (!location) throw new Error(`POST ${start} answered 202 without a Location`);
    const url = new URL(location, "http://registry.test");
    url.searchParams.set("digest", digest);
    const put = location.startsWith("http") ? url.href : url.pathname + url.search;
    const response = await send(target, "PUT", put, {
      body: bytes as Uint8Array<ArrayBuffer>,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(bytes.byteLength),
      },
    });
    await expectStatus(response, "PUT", put, 201);
    await response.body?.cancel();
    return { mediaType, digest, size: bytes.byteLength };
  }

  async function pushManifest(
    repository: string,
    bytes: Uint8Array,
    mediaType: string,
    tags: string[],
  ): Promise<{ digest: string; descriptor: OciDescriptor }> {
    const digest = sha256(bytes);
    for (const reference of tags.length ? tags : [digest]) {
      const path = v2Path(target, `${repository}/manifests/${reference}`);
      const response = await send(target, "PUT", path, {
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { "Content-Type": mediaType, "Content-Length": String(bytes.byteLength) },
      });
      await expectStatus(response, "PUT", path, 201);
      await response.body?.cancel();
    }
    return { digest, descriptor: { mediaType, digest, size: bytes.byteLength } };
  }

  async function pushJson<T extends ImageManifestJson | ImageIndexJson>(
    repository: string,
    json: T,
    mediaType: string,
    tags: string[],
  ): Promise<SeededManifest & { manifest: T }> {
    const bytes = encoder.encode(JSON.stringify(json));
    const { digest, descriptor } = await pushManifest(repository, bytes, mediaType, tags);
    return {
      repository,
      digest,
      mediaType,
      size: bytes.byteLength,
      bytes,
      tags,
      descriptor,
      manifest: json,
    };
  }

  async function pushLayers(
    repository: string,
    inputs: Array<Content | LayerInput>,
    defaultType: string,
  ): Promise<OciDescriptor[]> {
    const out: OciDescriptor[] = [];
    for (const input of inputs) {
      const layer = isLayerInput(input) ? input : { content: input };
      const descriptor = await pushBlob(
        repository,
        await toBytes(layer.content),
        layer.mediaType ?? defaultType,
      );
      if (layer.annotations) descriptor.annotations = layer.annotations;
      out.push(descriptor);
    }
    return out;
  }

  const seeder: Seeder = {
    async blob(repository, content, options = {}) {
      return await pushBlob(
        repository,
        await toBytes(content),
        options.mediaType ?? "application/octet-stream",
      );
    },

    async image(repository, options = {}) {
      const docker = options.format === "docker";
      const platform = parsePlatform(options.platform ?? "linux/amd64");
      const layers = await pushLayers(
        repository,
        options.layers ?? [],
        docker ? MEDIA_TYPES.dockerLayer : MEDIA_TYPES.layer,
      );
      let configBytes: Uint8Array;
      if (options.config !== undefined && isContent(options.config)) {
        configBytes = await toBytes(options.config);
      } else {
        const given = (options.config ?? {}) as Record<string, unknown>;
        configBytes = encoder.encode(JSON.stringify({
          architecture: platform.architecture,
          os: platform.os,
          ...(platform.variant ? { variant: platform.variant } : {}),
          ...(platform["os.version"] ? { "os.version": platform["os.version"] } : {}),
          rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
          config: {},
          ...given,
        }));
      }
      const config = await pushBlob(
        repository,
        configBytes,
        options.configMediaType ?? (docker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.config),
      );
      const mediaType = docker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.manifest;
      const manifest: ImageManifestJson = {
        schemaVersion: 2,
        mediaType,
        ...(options.artifactType ? { artifactType: options.artifactType } : {}),
        config,
        layers,
        ...(options.subject ? { subject: asDescriptor(options.subject) } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      const seeded = await pushJson(repository, manifest, mediaType, tagList(options.tag));
      return { ...seeded, config, layers, platform };
    },

    async index(repository, options) {
      const docker = options.format === "docker";
      const children: SeededManifest[] = [];
      for (const child of options.manifests) {
        children.push(
          isSeeded(child)
            ? child
            : await seeder.image(repository, { format: options.format, ...child }),
        );
      }
      const mediaType = docker ? MEDIA_TYPES.dockerManifestList : MEDIA_TYPES.index;
      const manifest: ImageIndexJson = {
        schemaVersion: 2,
        mediaType,
        ...(options.artifactType ? { artifactType: options.artifactType } : {}),
        manifests: children.map((c) => {
          const platform = (c as Partial<SeededImage>).platform;
          return platform ? { ...c.descriptor, platform } : { ...c.descriptor };
        }),
        ...(options.subject ? { subject: asDescriptor(options.subject) } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      const seeded = await pushJson(repository, manifest, mediaType, tagList(options.tag));
      return { ...seeded, manifests: children };
    },

    async artifact(repository, options) {
      let config = EMPTY_DESCRIPTOR;
      if (options.config) {
        config = await pushBlob(
          repository,
          await toBytes(options.config.content),
          options.config.mediaType,
        );
      } else {
        await pushBlob(repository, EMPTY_JSON, MEDIA_TYPES.empty);
      }
      let layers: OciDescriptor[];
      if (options.blobs && options.blobs.length > 0) {
        layers = await pushLayers(repository, options.blobs, "application/octet-stream");
      } else {
        if (options.config) await pushBlob(repository, EMPTY_JSON, MEDIA_TYPES.empty);
        layers = [{ ...EMPTY_DESCRIPTOR }];
      }
      const manifest: ImageManifestJson = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.manifest,
        artifactType: options.artifactType,
        config: { ...config },
        layers,
        ...(options.subject ? { subject: asDescriptor(options.subject) } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      return await pushJson(repository, manifest, MEDIA_TYPES.manifest, tagList(options.tag));
    },

    async manifest(repository, manifest, options = {}) {
      let bytes: Uint8Array;
      let json: Record<string, unknown>;
      if (typeof manifest === "string" || manifest instanceof Uint8Array) {
        bytes = typeof manifest === "string" ? encoder.encode(manifest) : manifest;
        try {
          json = JSON.parse(new TextDecoder().decode(bytes));
        } catch {
          json = {};
        }
      } else {
        json = manifest;
        bytes = encoder.encode(JSON.stringify(manifest));
      }
      const mediaType = options.mediaType ??
        (typeof json.mediaType === "string" ? json.mediaType : MEDIA_TYPES.manifest);
      const tags = tagList(options.tag);
      const { digest, descriptor } = await pushManifest(repository, bytes, mediaType, tags);
      return {
        repository,
        digest,
        mediaType,
        size: bytes.byteLength,
        bytes,
        tags,
        descriptor,
        manifest: json,
      };
    },

    async tag(repository, tag, targetManifest) {
      const digest = typeof targetManifest === "string" ? targetManifest : targetManifest.digest;
      const path = v2Path(target, `${repository}/manifests/${digest}`);
      const response = await expectStatus(
        await send(target, "GET", path, { headers: { Accept: ACCEPT_ALL_MANIFESTS } }),
        "GET",
        path,
        200,
      );
      const bytes = new Uint8Array(await response.arrayBuffer());
      const mediaType = (response.headers.get("Content-Type") ?? MEDIA_TYPES.manifest).split(";")[0]
        .trim();
      await pushManifest(repository, bytes, mediaType, [tag]);
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        // not JSON: keep {}
      }
      return {
        repository,
        digest,
        mediaType,
        size: bytes.byteLength,
        bytes,
        tags: [tag],
        descriptor: { mediaType, digest, size: bytes.byteLength },
        manifest: json,
      };
    },
  };
  return seeder;
}

/**
 * An `Accept` header listing every manifest type the registry serves.
 *
 * @example
 * ```ts
 * await registry.fetch("/v2/app/manifests/latest", { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
 * ```
 */
export const ACCEPT_ALL_MANIFESTS = [
  MEDIA_TYPES.manifest,
  MEDIA_TYPES.index,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
  "*/*",
].join(", ");
