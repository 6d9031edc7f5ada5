/**
 * Reading back what is in a registry, for assertions: repositories, tags, manifests (parsed),
 * blobs, referrers, whole images, and a snapshot of every tag. Everything is read through the
 * registry's HTTP API, so it is what a client would see.
 *
 * @module
 */
import type { OciDescriptor } from "./content.ts";
import { expectStatus, type Fetcher, getManifest, send, type Target, v2Path } from "./http.ts";
import { ACCEPT_ALL_MANIFESTS } from "./media_types.ts";

/** A manifest as served: its exact bytes and its JSON. */
export interface InspectedManifest {
  /** `Docker-Content-Digest` of the response. */
  digest: string;
  /** Its Content-Type. */
  mediaType: string;
  /** Size in bytes. */
  size: number;
  /** The exact bytes. */
  bytes: Uint8Array;
  /** The bytes as text. */
  text: string;
  /** The bytes parsed as JSON (`undefined` when they are not JSON). */
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** An image as served: manifest, parsed config and every layer's bytes. */
export interface InspectedImage {
  /** The manifest. */
  manifest: InspectedManifest;
  /** The config blob parsed as JSON (`undefined` when it is not JSON). */
  // deno-lint-ignore no-explicit-any
  config: any;
  /** Each layer's descriptor and bytes, in order. */
  layers: Array<{ descriptor: OciDescriptor; bytes: Uint8Array }>;
}

/** Reads a registry's content through its HTTP API. */
export interface Inspector {
  /**
   * Every repository that holds a manifest, sorted (the whole catalog, page after page).
   *
   * @example
   * ```ts
   * assert.deepEqual(await registry.inspect.repositories(), ["app", "library/hello"]);
   * ```
   */
  repositories(): Promise<string[]>;
  /**
   * The repository's tags, sorted; `[]` for an unknown repository.
   *
   * @example
   * ```ts
   * assert.deepEqual(await registry.inspect.tags("app"), ["1.0", "latest"]);
   * ```
   */
  tags(repository: string): Promise<string[]>;
  /**
   * A manifest by tag or digest, parsed; `undefined` when it does not exist.
   *
   * @example
   * ```ts
   * const m = await registry.inspect.manifest("app", "latest");
   * assert.equal(m?.json.layers.length, 2);
   * ```
   */
  manifest(repository: string, reference: string): Promise<InspectedManifest | undefined>;
  /**
   * A blob's bytes; `undefined` when the repository has no such blob.
   *
   * @example
   * ```ts
   * const bytes = await registry.inspect.blob("app", image.layers[0].digest);
   * ```
   */
  blob(repository: string, digest: string): Promise<Uint8Array | undefined>;
  /**
   * A blob as UTF-8 text; `undefined` when the repository has no such blob.
   *
   * @example
   * ```ts
   * assert.equal(await registry.inspect.blobText("app", digest), "hello");
   * ```
   */
  blobText(repository: string, digest: string): Promise<string | undefined>;
  /**
   * The descriptors of the manifests that refer to `digest` (the referrers API), optionally of
   * one artifact type.
   *
   * @example
   * ```ts
   * const sigs = await registry.inspect.referrers("app", image.digest, "application/vnd.example.signature");
   * ```
   */
  referrers(repository: string, digest: string, artifactType?: string): Promise<OciDescriptor[]>;
  /**
   * An image manifest with its config parsed and every layer's bytes; `undefined` when the
   * manifest does not exist. Throws if a blob it names is missing.
   *
   * @example
   * ```ts
   * const image = await registry.inspect.image("app", "latest");
   * assert.deepEqual(image?.config.config.Cmd, ["/hello"]);
   * ```
   */
  image(repository: string, reference: string): Promise<InspectedImage | undefined>;
  /**
   * Every repository with every tag and the digest it points to: one value to `deepEqual`.
   *
   * @example
   * ```ts
   * assert.deepEqual(await registry.inspect.snapshot(), { app: { latest: image.digest } });
   * ```
   */
  snapshot(): Promise<Record<string, Record<string, string>>>;
}

/** Options of {@link createInspector}. */
export interface InspectorOptions {
  /** The registry's mount prefix (`RegistryOptions.basePath`). Default "". */
  basePath?: string;
  /** Page size (`?n=`) of catalog, tag and referrers listings, which are read to the end. Default 1000. */
  pageSize?: number;
}

const decoder = new TextDecoder();

function nextLink(response: Response): string | undefined {
  const link = response.headers.get("Link");
  const match = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  return match ? match[1] : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * An {@link Inspector} reading through `fetcher` (a registry, a test registry, or anything with
 * `fetch(request)`).
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { createInspector } from "fetch-registry/testing";
 * const registry = createRegistry();
 * const inspect = createInspector(registry);
 * console.log(await inspect.repositories()); // []
 * ```
 */
export function createInspector(fetcher: Fetcher, options: InspectorOptions = {}): Inspector {
  const target: Target = { fetcher, basePath: options.basePath };
  const PAGE = options.pageSize ?? 1000;

  /** GET every page of a listing, following `Link: rel="next"`. */
  async function list(first: string, key: "repositories" | "tags"): Promise<string[] | undefined> {
    const out: string[] = [];
    let path: string | undefined = first;
    while (path) {
      const response = await send(target, "GET", path);
      if (response.status === 404 && key === "tags") {
        await response.body?.cancel();
        return undefined;
      }
      await expectStatus(response, "GET", path, 200);
      const body = await response.json() as Record<string, string[] | null>;
      out.push(...(body[key] ?? []));
      path = nextLink(response);
    }
    return out;
  }

  async function blob(repository: string, digest: string): Promise<Uint8Array | undefined> {
    const path = v2Path(target, `${repository}/blobs/${digest}`);
    let response = await send(target, "GET", path);
    if (response.status === 307 || response.status === 302) {
      // storage with redirectUrl (S3): follow it like a client would
      const location = response.headers.get("Location");
      await response.body?.cancel();
      if (!location) throw new Error(`GET ${path} redirected without a Location`);
      response = await fetch(location);
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    await expectStatus(response, "GET", path, 200);
    return new Uint8Array(await response.arrayBuffer());
  }

  const inspector: Inspector = {
    async repositories() {
      return (await list(v2Path(target, `_catalog?n=${PAGE}`), "repositories")) ?? [];
    },

    async tags(repository) {
      return (await list(v2Path(target, `${repository}/tags/list?n=${PAGE}`), "tags")) ?? [];
    },

    async manifest(repository, reference) {
      const served = await getManifest(target, repository, reference, { optional: true });
      if (!served) return undefined;
      const text = decoder.decode(served.bytes);
      return { ...served, size: served.bytes.byteLength, text, json: parseJson(text) };
    },

    blob,

    async blobText(repository, digest) {
      const bytes = await blob(repository, digest);
      return bytes === undefined ? undefined : decoder.decode(bytes);
    },

    async referrers(repository, digest, artifactType) {
      const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
      const out: OciDescriptor[] = [];
      let path: string | undefined = v2Path(target, `${repository}/referrers/${digest}${query}`);
      while (path) {
        const response = await expectStatus(await send(target, "GET", path), "GET", path, 200);
        const index = await response.json() as { manifests?: OciDescriptor[] };
        out.push(...(index.manifests ?? []));
        path = nextLink(response);
      }
      return out;
    },

    async image(repository, reference) {
      const manifest = await inspector.manifest(repository, reference);
      if (!manifest) return undefined;
      const json = manifest.json as
        | { config?: OciDescriptor; layers?: OciDescriptor[] }
        | undefined;
      if (!json?.config || !Array.isArray(json.layers)) {
        throw new TypeError(
          `${repository}:${reference} is not an image manifest (${manifest.mediaType})`,
        );
      }
      const need = async (d: OciDescriptor) => {
        const bytes = await blob(repository, d.digest);
        if (!bytes) {
          throw new Error(`${repository}:${reference} names blob ${d.digest}, which is missing`);
        }
        return bytes;
      };
      const configBytes = await need(json.config);
      const layers = [];
      for (const descriptor of json.layers) {
        layers.push({ descriptor, bytes: await need(descriptor) });
      }
      return { manifest, config: parseJson(decoder.decode(configBytes)), layers };
    },

    async snapshot() {
      const out: Record<string, Record<string, string>> = {};
      for (const repository of await inspector.repositories()) {
        const tags: Record<string, string> = {};
        for (const tag of await inspector.tags(repository)) {
          const path = v2Path(target, `${repository}/manifests/${tag}`);
          const response = await send(target, "HEAD", path, {
            headers: { Accept: ACCEPT_ALL_MANIFESTS },
          });
          await expectStatus(response, "HEAD", path, 200);
          tags[tag] = response.headers.get("Docker-Content-Digest") ?? "";
        }
        out[repository] = tags;
      }
      return out;
    },
  };
  return inspector;
}
