/**
 * Shared pieces of the protocol suite: the per-test fixture, byte and header assertions, image
 * pushes, listings, and the chunked-upload sequence.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { suite } from "uvu";
import type { RegistryOptions } from "../../lib/registry.ts";
import type { FullStorage, Storage } from "../../lib/storage/types.ts";
import {
  type Answer,
  type Client,
  expectError,
  expectStatus,
  locationOf,
  pushBlob,
  pushManifest,
  startUpload,
  streamOf,
  withQuery,
} from "../support/http.ts";
import {
  type BuiltManifest,
  configBlob,
  describe,
  digestOf,
  EMPTY_JSON,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  ociIndex,
  ociManifest,
  randomBytes,
  utf8,
} from "../support/oci.ts";

/** Makes a fresh storage for each test. */
export type StorageFactory = () => FullStorage | Promise<FullStorage>;

/** What every area of the suite registers its tests with. */
export interface SuiteContext {
  /** A registry (with `options`) over a fresh storage, and a client bound to it. */
  fresh(options?: Omit<RegistryOptions, "storage">): Promise<Fixture>;
  /** An uvu suite named after the adapter and `title`. */
  group(title: string): ReturnType<typeof suite>;
  /** The adapter's factory, for tests that wrap or share a storage. */
  makeStorage: StorageFactory;
}

/** A registry client over a fresh storage, and that storage. */
export interface Fixture {
  c: Client;
  storage: Storage;
}

/** Assert equal bytes, naming the first differing offset (no megabyte diffs). */
export function equalBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  assert.equal(actual.length, expected.length, `${message}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${message}: bytes differ at offset ${i}`);
  }
}

/** The inner path of a Link header `<path>; rel="next"`. */
export function linkTarget(res: Answer): string | undefined {
  const link = res.headers.get("Link");
  if (link === null) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link.trim());
  assert.ok(m, `Link header has the form <url>; rel="next": ${link}`);
  return m[1];
}

/** The errors of an answer as text, to search for a word in message or detail. */
export function detailText(errors: { message?: string; detail?: unknown }[]): string {
  return JSON.stringify(errors);
}

/** Distinct small number from a string, for deterministic random blobs. */
export function seedOf(text: string): number {
  let h = 7;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

/** A config and a layer pushed, and an OCI manifest over them. */
export interface Image {
  config: Uint8Array;
  layer: Uint8Array;
  manifest: BuiltManifest;
}

/** Push a config and a layer to `name` and build (not push) an OCI manifest over them. */
export async function pushImageBlobs(c: Client, name: string, seed: string): Promise<Image> {
  const config = configBlob(seed);
  const layer = randomBytes(300 + (seedOf(seed) % 200), seedOf(seed));
  await pushBlob(c, name, config);
  await pushBlob(c, name, layer);
  const manifest = ociManifest({
    config: describe(OCI_CONFIG, config),
    layers: [describe(OCI_LAYER, layer)],
  });
  return { config, layer, manifest };
}

/** Push blobs and the manifest under `tag` (or by digest). */
export async function pushImage(
  c: Client,
  name: string,
  seed: string,
  tag?: string,
): Promise<Image> {
  const image = await pushImageBlobs(c, name, seed);
  await pushManifest(c, name, image.manifest, tag ?? image.manifest.digest);
  return image;
}

/** The tags list of `name` (asserting 200). */
export async function tagsOf(c: Client, name: string): Promise<string[]> {
  const res = await c.call("GET", `/v2/${name}/tags/list`);
  expectStatus(res, 200);
  return (res.json() as { tags: string[] }).tags ?? [];
}

/** The body of a referrers answer. */
export interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: {
    mediaType: string;
    digest: string;
    size: number;
    artifactType?: string;
    annotations?: Record<string, string>;
  }[];
}

/** GET the referrers of `digest`, asserting a well-formed OCI index answer. */
export async function referrersOf(c: Client, name: string, digest: string, query = ""): Promise<{
  res: Answer;
  index: ReferrersIndex;
}> {
  const res = await c.call("GET", `/v2/${name}/referrers/${digest}${query}`);
  expectStatus(res, 200);
  assert.equal(res.headers.get("Content-Type"), OCI_INDEX, "referrers Content-Type");
  const index = res.json() as ReferrersIndex;
  assert.equal(index.schemaVersion, 2, "referrers index schemaVersion");
  assert.equal(index.mediaType, OCI_INDEX, "referrers index mediaType");
  assert.ok(Array.isArray(index.manifests), "referrers index has a manifests array");
  return { res, index };
}

/** Wrap a storage so that every call is recorded (to prove nothing touched storage). */
export function recording(storage: Storage): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const wrap = <T extends object>(target: T, prefix: string): T =>
    new Proxy(target, {
      get(t, key, receiver) {
        const value = Reflect.get(t, key, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(`${prefix}${String(key)}`);
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  // Only members the adapter has are wrapped: an absent optional capability stays absent.
  const list = storage.repositories;
  const wrapped: Storage = {
    blobs: wrap(storage.blobs, "blobs."),
    uploads: storage.uploads && wrap(storage.uploads, "uploads."),
    manifests: wrap(storage.manifests, "manifests."),
    tags: wrap(storage.tags, "tags."),
    repositories: list && ((options) => {
      calls.push("repositories");
      return list.call(storage, options);
    }),
  };
  return { storage: wrapped, calls };
}

/** What {@link referrerSetup} pushed. */
export interface ReferrerSetup {
  /** The subject image. */
  subject: Image;
  /** An image never pushed as a manifest: the subject of `cLayer`. */
  ghost: Image;
  /** Referrers of `subject` pushed before it. */
  aConfig: BuiltManifest;
  /** A referrer with artifactType A and an empty config. */
  aLayer: BuiltManifest;
  /** An index referrer. */
  index: BuiltManifest;
  /** Referrers pushed after the subject. */
  bConfig: BuiltManifest;
  /** A referrer with artifactType B. */
  bLayer: BuiltManifest;
  /** The referrer of the ghost. */
  cLayer: BuiltManifest;
}

/** Artifact type A of the conformance discovery setup. */
export const typeA = "application/vnd.nhl.peanut.butter.bagel";
/** Artifact type B of the conformance discovery setup. */
export const typeB = "application/vnd.nba.strawberry.jam.croissant";
/** Artifact type of the index referrer of the conformance discovery setup. */
export const typeIndex = "application/vnd.food.stand";
/** The annotation key of the conformance discovery setup. */
export const ANNOTATION_KEY = "org.opencontainers.conformance.test";

/** The conformance discovery setup: five referrers of one subject, three pushed before it. */
export async function referrerSetup(c: Client, name: string): Promise<ReferrerSetup> {
  await pushBlob(c, name, EMPTY_JSON);
  const refA = utf8("NHL Peanut Butter on my NHL bagel");
  const refB = utf8("NBA Strawberry Jam on my NBA croissant");
  await pushBlob(c, name, refA);
  const subject = await pushImageBlobs(c, name, "subject");
  const subjectDesc = subject.manifest.descriptor;
  const aConfig = ociManifest({
    config: describe(typeA, refA),
    subject: subjectDesc,
    layers: [describe(OCI_EMPTY, EMPTY_JSON)],
    annotations: { [ANNOTATION_KEY]: "test config a" },
  });
  const aLayer = ociManifest({
    artifactType: typeA,
    config: describe(OCI_EMPTY, EMPTY_JSON),
    subject: subjectDesc,
    layers: [describe(typeA, refA)],
    annotations: { [ANNOTATION_KEY]: "test layer a" },
  });
  const index = ociIndex({
    artifactType: typeIndex,
    manifests: [aConfig.descriptor, aLayer.descriptor],
    subject: subjectDesc,
    annotations: { [ANNOTATION_KEY]: "test index" },
  });
  for (const m of [aConfig, aLayer, index]) {
    const put = await pushManifest(c, name, m);
    assert.equal(
      put.headers.get("OCI-Subject"),
      subject.manifest.digest,
      "OCI-Subject before the subject exists",
    );
  }
  await pushManifest(c, name, subject.manifest, "tagtest0");
  await pushBlob(c, name, refB);
  const bConfig = ociManifest({
    config: describe(typeB, refB),
    subject: subjectDesc,
    layers: [describe(OCI_EMPTY, EMPTY_JSON)],
    annotations: { [ANNOTATION_KEY]: "test config b" },
  });
  const bLayer = ociManifest({
    artifactType: typeB,
    config: describe(OCI_EMPTY, EMPTY_JSON),
    subject: subjectDesc,
    layers: [describe(typeB, refB)],
    annotations: { [ANNOTATION_KEY]: "test layer b" },
  });
  for (const m of [bConfig, bLayer]) {
    const put = await pushManifest(c, name, m);
    assert.equal(put.headers.get("OCI-Subject"), subject.manifest.digest);
  }
  const ghost = await pushImageBlobs(c, name, "ghost");
  const cLayer = ociManifest({
    artifactType: typeB,
    config: describe(OCI_EMPTY, EMPTY_JSON),
    subject: ghost.manifest.descriptor,
    layers: [describe(typeB, refB)],
  });
  const putC = await pushManifest(c, name, cLayer);
  assert.equal(putC.headers.get("OCI-Subject"), ghost.manifest.digest);
  return { subject, ghost, aConfig, aLayer, index, bConfig, bLayer, cLayer };
}

/** How {@link chunkedUpload} sends its chunks and finishes. */
export interface ChunkedUploadOptions {
  /** Query of the POST that opens the session (`?digest-algorithm=sha512`). */
  query?: string;
  /** The digest the PUT claims; default: the sha256 of every chunk and `last`. */
  digest?: string;
  /** Bytes the PUT carries as the final chunk; default: no body. */
  last?: Uint8Array;
  /**
   * Content-Range of the final chunk in the PUT: true (default) for the right one, false for
   * none, or a literal value (a wrong range, on purpose).
   */
  lastRange?: boolean | string;
  /** Send `Content-Range` on the PATCHes of whole chunks (default true). */
  contentRange?: boolean;
  /** Headers sent with every PATCH and the PUT (`Content-Type`). */
  headers?: Record<string, string>;
}

/** The answers of a {@link chunkedUpload}. */
export interface ChunkedUpload {
  /** The digest the PUT claimed. */
  digest: string;
  /** The Location the POST answered. */
  location: string;
  /** Each PATCH's answer, in order (each asserted 202 with the cumulative Range). */
  patches: Answer[];
  /** The PUT's answer, not asserted: the caller checks 201 or the error it expects. */
  put: Answer;
}

/**
 * The chunked-upload sequence: POST a session in `name`, PATCH each chunk at the Location the
 * previous answer gave (asserting 202, the cumulative `Range` and a session Location), then PUT
 * `?digest=` with the optional final chunk. A chunk given as a list of pieces is sent as a
 * stream of those pieces with no Content-Range or length (a streamed PATCH).
 *
 * @example
 * ```ts
 * const { put } = await chunkedUpload(c, "a", [bytes.subarray(0, 10), bytes.subarray(10)]);
 * expectStatus(put, 201);
 * ```
 */
export async function chunkedUpload(
  c: Client,
  name: string,
  chunks: (Uint8Array | Uint8Array[])[],
  options: ChunkedUploadOptions = {},
): Promise<ChunkedUpload> {
  const headers = options.headers ?? {};
  const all = [...chunks.flat(), ...(options.last ? [options.last] : [])];
  const whole = new Uint8Array(all.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of all) {
    whole.set(b, at);
    at += b.byteLength;
  }
  const digest = options.digest ?? digestOf(whole);
  const location = await startUpload(c, name, options.query);
  let next = location;
  let offset = 0;
  const patches: Answer[] = [];
  for (const chunk of chunks) {
    const streamed = Array.isArray(chunk);
    const size = streamed ? chunk.reduce((n, b) => n + b.byteLength, 0) : chunk.byteLength;
    const range: Record<string, string> = !streamed && options.contentRange !== false
      ? { "Content-Range": `${offset}-${offset + size - 1}` }
      : {};
    const res = await c.call("PATCH", next, {
      headers: { ...headers, ...range },
      body: streamed ? streamOf(chunk) : chunk,
    });
    expectStatus(res, 202);
    offset += size;
    assert.equal(res.headers.get("Range"), `0-${offset - 1}`, `PATCH ${next}: Range`);
    next = locationOf(res);
    assert.ok(next.startsWith(`/v2/${name}/blobs/uploads/`), `PATCH Location: ${next}`);
    patches.push(res);
  }
  const lastRange = options.lastRange ?? true;
  const putHeaders: Record<string, string> = { ...headers };
  if (options.last && lastRange !== false) {
    putHeaders["Content-Range"] = typeof lastRange === "string"
      ? lastRange
      : `${offset}-${offset + options.last.byteLength - 1}`;
  }
  const put = await c.call("PUT", withQuery(next, { digest }), {
    headers: putHeaders,
    body: options.last,
  });
  return { digest, location, patches, put };
}

/**
 * GET, PATCH (with `body`), PUT `?digest=` (with `body`) and DELETE on the upload session `path`
 * all answer 404 BLOB_UPLOAD_UNKNOWN.
 *
 * @example
 * ```ts
 * await expectUnknownSession(c, "/v2/a/blobs/uploads/nosuchsession", utf8("x"));
 * ```
 */
export async function expectUnknownSession(
  c: Client,
  path: string,
  body: Uint8Array,
): Promise<void> {
  const requests: [string, string, Uint8Array | undefined][] = [
    ["GET", path, undefined],
    ["PATCH", path, body],
    ["PUT", withQuery(path, { digest: digestOf(body) }), body],
    ["DELETE", path, undefined],
  ];
  for (const [method, target, data] of requests) {
    expectError(await c.call(method, target, { body: data }), 404, "BLOB_UPLOAD_UNKNOWN");
  }
}
