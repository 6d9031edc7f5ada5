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
import { type Fetcher, getManifest, type Target } from "./http.ts";
import { MEDIA_TYPES } from "./media_types.ts";
import { parseJsonObject, pushBlob, pushManifest } from "./push.ts";
import type {
  ImageIndexJson,
  ImageManifestJson,
  ImageOptions,
  LayerInput,
  SeededImage,
  SeededManifest,
  Seeder,
  SeederOptions,
  TagOption,
} from "./seed_types.ts";

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
 * An image config as JSON: `architecture`, `os` (and `variant`, `os.version`) from the platform,
 * `rootfs` from the layers, then what `given` sets.
 */
function imageConfig(
  platform: Platform,
  layers: OciDescriptor[],
  given: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    ...(platform["os.version"] ? { "os.version": platform["os.version"] } : {}),
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    config: {},
    ...given,
  });
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

  async function pushContent(repository: string, content: Content, mediaType: string) {
    return await pushBlob(target, repository, await toBytes(content), mediaType);
  }

  function pushJson<T extends ImageManifestJson | ImageIndexJson>(
    repository: string,
    json: T,
    tag: TagOption | undefined,
  ): Promise<SeededManifest & { manifest: T }> {
    const bytes = encoder.encode(JSON.stringify(json));
    return pushManifest(target, repository, bytes, json.mediaType, tagList(tag), json);
  }

  async function pushLayers(
    repository: string,
    inputs: Array<Content | LayerInput>,
    defaultType: string,
  ): Promise<OciDescriptor[]> {
    const out: OciDescriptor[] = [];
    for (const input of inputs) {
      const layer = isLayerInput(input) ? input : { content: input };
      const descriptor = await pushContent(
        repository,
        layer.content,
        layer.mediaType ?? defaultType,
      );
      if (layer.annotations) descriptor.annotations = layer.annotations;
      out.push(descriptor);
    }
    return out;
  }

  const seeder: Seeder = {
    async blob(repository, content, options = {}) {
      return await pushContent(
        repository,
        content,
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
      const config = await pushContent(
        repository,
        options.config !== undefined && isContent(options.config)
          ? options.config
          : imageConfig(platform, layers, options.config),
        options.configMediaType ?? (docker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.config),
      );
      const manifest: ImageManifestJson = {
        schemaVersion: 2,
        mediaType: docker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.manifest,
        ...(options.artifactType ? { artifactType: options.artifactType } : {}),
        config,
        layers,
        ...(options.subject ? { subject: asDescriptor(options.subject) } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      const seeded = await pushJson(repository, manifest, options.tag);
      return { ...seeded, config, layers, platform };
    },

    async index(repository, options) {
      const children: SeededManifest[] = [];
      for (const child of options.manifests) {
        children.push(
          isSeeded(child)
            ? child
            : await seeder.image(repository, { format: options.format, ...child }),
        );
      }
      const manifest: ImageIndexJson = {
        schemaVersion: 2,
        mediaType: options.format === "docker" ? MEDIA_TYPES.dockerManifestList : MEDIA_TYPES.index,
        ...(options.artifactType ? { artifactType: options.artifactType } : {}),
        manifests: children.map((c) => {
          const platform = (c as Partial<SeededImage>).platform;
          return platform ? { ...c.descriptor, platform } : { ...c.descriptor };
        }),
        ...(options.subject ? { subject: asDescriptor(options.subject) } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      const seeded = await pushJson(repository, manifest, options.tag);
      return { ...seeded, manifests: children };
    },

    async artifact(repository, options) {
      const config = options.config
        ? await pushContent(repository, options.config.content, options.config.mediaType)
        : EMPTY_DESCRIPTOR;
      const blobs = options.blobs ?? [];
      // The empty descriptor's blob, for the config or the only layer that it stands for.
      if (!options.config || blobs.length === 0) {
        await pushBlob(target, repository, EMPTY_JSON, MEDIA_TYPES.empty);
      }
      const layers = blobs.length > 0
        ? await pushLayers(repository, blobs, "application/octet-stream")
        : [{ ...EMPTY_DESCRIPTOR }];
      const manifest: ImageManifestJson = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.manifest,
        artifactType: options.artifactType,
        config: { ...config },
        layers,
        ...(options.subject ? { subject: asDescriptor(options.subject) } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
      return await pushJson(repository, manifest, options.tag);
    },

    async manifest(repository, manifest, options = {}) {
      const raw = typeof manifest === "string" || manifest instanceof Uint8Array;
      const bytes = raw
        ? (typeof manifest === "string" ? encoder.encode(manifest) : manifest)
        : encoder.encode(JSON.stringify(manifest));
      const json = raw ? parseJsonObject(bytes) : manifest;
      const mediaType = options.mediaType ??
        (typeof json.mediaType === "string" ? json.mediaType : MEDIA_TYPES.manifest);
      return await pushManifest(target, repository, bytes, mediaType, tagList(options.tag), json);
    },

    async tag(repository, tag, targetManifest) {
      const digest = typeof targetManifest === "string" ? targetManifest : targetManifest.digest;
      const served = (await getManifest(target, repository, digest))!;
      const mediaType = served.mediaType || MEDIA_TYPES.manifest;
      return await pushManifest(target, repository, served.bytes, mediaType, [tag]);
    },
  };
  return seeder;
}
