/**
 * The HTTP protocol suite: every endpoint, header and error of ../shared/SPEC.md (the OCI
 * Distribution Spec v1.1.1 plus what its main branch and real clients add), driven through
 * `createRegistry({ storage }).fetch(new Request(...))` with no sockets. Every storage adapter runs
 * it unchanged: `protocolSuite("fs", () => fsStorage(dir))`.
 *
 * Written from the spec, not from the implementation: a failing test here means the handler (or
 * the adapter) is wrong.
 *
 * Map of the OCI conformance suite (opencontainers/distribution-spec v1.1.1, conformance/) to the
 * tests below. Where the conformance suite accepts alternatives (e.g. 201 or 202, 400 or 404),
 * the "conformance:" tests accept the same alternatives and the topical tests assert what SPEC.md
 * requires (the stricter answer).
 *
 * 01_pull_test.go
 *   Setup: POST then PUT ?digest= config/layer blobs; PUT manifest by tag and by digest
 *     → "conformance: pull workflow", "uploads: POST then monolithic PUT", "manifests: PUT by digest"
 *   HEAD/GET nonexistent blob → 404; HEAD/GET existing blob → 200 + Docker-Content-Digest
 *     → "conformance: pull workflow", "blobs: HEAD and GET headers", "blobs: unknown blob"
 *   HEAD/GET nonexistent manifest (".INVALID_MANIFEST_NAME") → 404
 *     → "conformance: pull workflow", "manifests: invalid tag on GET/HEAD is 404"
 *   HEAD/GET manifest by digest and by tag (Accept: OCI manifest) → 200 + Docker-Content-Digest
 *     → "conformance: pull workflow", "manifests: exact bytes and headers on GET and HEAD"
 *   Error codes: GET/PUT manifests/sha256:totallywrong → 400 (OCI code) or 404
 *     → "conformance: pull workflow", "grammar: malformed digests are 400 DIGEST_INVALID everywhere"
 *   Teardown: DELETE manifests by digest (2xx/405), blobs (2xx/404/405)
 *     → "conformance: pull workflow", "delete: ..." tests
 * 02_push_test.go
 *   Setup: push `{}` (sha256:44136fa…) and a reference blob → "blobs: the {} blob", "conformance: push"
 *   Blob Upload Streamed: POST, PATCH body without Content-Range → 202; PUT ?digest= with no body
 *     → 201 + Location → "uploads: streamed PATCH then PUT without body", "conformance: push workflow"
 *   Blob Upload Monolithic: GET nonexistent → 404; POST ?digest= with body → 201/202 + Location,
 *     then GET 200 (or 404 after 202); POST → 202; PUT with body → 201 + Location; GET 200; layer
 *     → "uploads: single POST with ?digest=", "uploads: POST then monolithic PUT"
 *   Blob Upload Chunked: POST (Content-Length: 0); out-of-order PATCH → 416; PATCH chunk 1 → 202,
 *     Range 0-<n>; retry chunk 1 on the first Location → 416; GET on that Location → 204 + Location
 *     + Range; PATCH chunk 2 on the GET's Location → 202 + Range 0-<last>; PUT ?digest= → 201
 *     → "uploads: out-of-order chunk recovery", "conformance: push workflow"
 *   OCI-Chunk-Min-Length honoured if sent → "uploads: POST answers 202 with Location, Range, UUID"
 *   Cross-Repository Blob Mount: mount without from → 202 + Location; mount with from → 201 with
 *     Location exactly /v2/<other>/blobs/<digest> (or 202 with /v2/<other>/blobs/uploads/ prefix),
 *     then GET 200 → "mounts: ..." tests, "conformance: push workflow"
 *   Manifest Upload: GET nonexistent → 404; PUT to test0..test3 → 201 + Location; manifest with no
 *     layers and no mediaType field → 201; GET by digest → 200; config/mediaType as artifact type,
 *     artifactType with empty config, index and nested index with artifactType + annotations,
 *     dangling subject → 2xx + OCI-Subject (one stored revision checks it against the regexp
 *     ^[a-f0-9]+:[a-f0-9]+$, which no "sha256:…" value can match; we assert equality instead)
 *     → "manifests: ..." tests, "referrers: ..." tests, "conformance: push workflow"
 *   Teardown: DELETE manifests (2xx/405), blobs (2xx/404/405) → "conformance: push workflow"
 * 03_discovery_test.go
 *   Setup: four tags test0..test3 on one manifest; referrers A-config (config.mediaType = type A),
 *     A-layer (artifactType A, empty config), an index with subject + artifactType, all pushed
 *     BEFORE their subject, then the subject, then B-config, B-layer, and C-layer on a subject that
 *     never exists; each PUT answers OCI-Subject = subject digest
 *     → "conformance: discovery workflow", "referrers: listing with artifactType and annotations"
 *   Tags: GET list → 200; ?n=<half> → exactly n; ?n=&last= → ≤ n → "tags: ..." tests
 *   Referrers: unknown digest → 200, Content-Type application/vnd.oci.image.index.v1+json, 0
 *     manifests; subject → 5 entries, each with exactly its one annotation; ?artifactType=A → 2 and
 *     OCI-Filters-Applied: artifactType; never-pushed subject → the 1 dangling referrer
 *     → "referrers: ..." tests, "conformance: discovery workflow"
 *   Teardown: DELETE every manifest by digest (and the tag via the digest route) → 2xx/405/404
 * 04_management_test.go
 *   DELETE by tag → 202 (or 400 UNSUPPORTED / 405); DELETE by digest → 202/404; GET deleted → 404;
 *   tags list shrinks; DELETE config/layer blobs → 202/404/405; GET deleted blob → 404
 *     → "delete: ..." tests, "conformance: management workflow"
 * setup.go: the fixtures (configs with "data" and unknown descriptor fields, a manifest without a
 *   mediaType field, the gzip layer, 42-byte random blobs split in two chunks) → "manifests: unknown
 *   fields and the data field are accepted", "conformance: ..." tests.
 *
 * Choices where SPEC.md leaves room, following distribution: missing index/list children are
 * 400 MANIFEST_BLOB_UNKNOWN (the spec's message for it is "manifest references a manifest or blob
 * unknown to registry"; distribution answers the same), accepted with sparseIndexes; a mount with a
 * malformed digest or `from` may fall back to a 202 session (distribution ignores both) or be a
 * 400; a tag outside the grammar is 404 on GET/HEAD (the conformance suite requires it) and 400
 * (TAG_INVALID or MANIFEST_INVALID) on PUT; malformed `n` is 400 PAGINATION_NUMBER_INVALID.
 *
 * Beyond the conformance suite (SPEC.md, issue 2): the six range cases on a 2048-byte blob, ETag,
 * If-None-Match, Accept-Ranges, every bad-digest variant leaving nothing visible, sha512, cancel,
 * session bound to its repository, per-repository visibility, 4 MiB manifest limit, Docker schema 2
 * and manifest lists, schema 1 refused, sparse indexes, multi-tag PUT with OCI-Tag, tag and catalog
 * paging with Link, every option, name grammar, 405s, unknown query parameters, odd repository
 * names.
 *
 * @module
 */
import { suite } from "uvu";
import assert from "node:assert/strict";
import { createRegistry } from "../lib/registry.ts";
import type { Registry, RegistryOptions } from "../lib/registry.ts";
import type { Storage } from "../lib/storage/types.ts";
import {
  type Answer,
  type Client,
  client,
  expectError,
  expectStatus,
  locationOf,
  pushBlob,
  pushManifest,
  putManifest,
  startUpload,
  streamOf,
  withQuery,
} from "./support/http.ts";
import {
  buildManifest,
  type BuiltManifest,
  configBlob,
  describe,
  digestOf,
  DOCKER_CONFIG,
  DOCKER_FOREIGN_LAYER,
  DOCKER_LAYER,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  dockerManifest,
  dockerManifestList,
  EMPTY_DIGEST,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_LAYER_NONDIST,
  OCI_MANIFEST,
  ociIndex,
  ociManifest,
  randomBytes,
  utf8,
} from "./support/oci.ts";

/** Makes a fresh storage for each test. */
export type StorageFactory = () => Storage | Promise<Storage>;

interface Fixture {
  c: Client;
  storage: Storage;
}

function equalBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  assert.equal(actual.length, expected.length, `${message}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${message}: bytes differ at offset ${i}`);
  }
}

/** The inner path of a Link header `<path>; rel="next"`. */
function linkTarget(res: Answer): string | undefined {
  const link = res.headers.get("Link");
  if (link === null) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link.trim());
  assert.ok(m, `Link header has the form <url>; rel="next": ${link}`);
  return m[1];
}

function detailText(errors: { message?: string; detail?: unknown }[]): string {
  return JSON.stringify(errors);
}

/** Distinct small number from a string, for deterministic random blobs. */
function seedOf(text: string): number {
  let h = 7;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

interface Image {
  config: Uint8Array;
  layer: Uint8Array;
  manifest: BuiltManifest;
}

/** Push a config and a layer to `name` and build (not push) an OCI manifest over them. */
async function pushImageBlobs(c: Client, name: string, seed: string): Promise<Image> {
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
async function pushImage(c: Client, name: string, seed: string, tag?: string): Promise<Image> {
  const image = await pushImageBlobs(c, name, seed);
  await pushManifest(c, name, image.manifest, tag ?? image.manifest.digest);
  return image;
}

async function tagsOf(c: Client, name: string): Promise<string[]> {
  const res = await c.call("GET", `/v2/${name}/tags/list`);
  expectStatus(res, 200);
  return (res.json() as { tags: string[] }).tags ?? [];
}

interface ReferrersIndex {
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

async function referrersOf(c: Client, name: string, digest: string, query = ""): Promise<{
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
function recording(storage: Storage): { storage: Storage; calls: string[] } {
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
  const wrapped: Storage = {
    blobs: wrap(storage.blobs, "blobs."),
    uploads: wrap(storage.uploads, "uploads."),
    manifests: wrap(storage.manifests, "manifests."),
    tags: wrap(storage.tags, "tags."),
    repositories: (options) => {
      calls.push("repositories");
      return storage.repositories(options);
    },
  };
  return { storage: wrapped, calls };
}

/**
 * Register and run the protocol suite against storages made by `makeStorage`, through registries
 * made by `makeRegistry` (default `createRegistry`; wrappers such as `withMetrics` pass their own).
 *
 * @example
 * ```ts
 * protocolSuite("memory", () => memoryStorage());
 * ```
 */
export function protocolSuite(
  label: string,
  makeStorage: StorageFactory,
  makeRegistry: (options: RegistryOptions) => Registry = createRegistry,
): void {
  async function fresh(options: Omit<RegistryOptions, "storage"> = {}): Promise<Fixture> {
    const storage = await makeStorage();
    const registry = makeRegistry({ ...options, storage });
    return { c: client(registry), storage };
  }

  function group(title: string): ReturnType<typeof suite> {
    return suite(`${label} protocol: ${title}`);
  }

  // ───────────────────────────── base ─────────────────────────────
  const base = group("base endpoint");

  base("GET /v2/ answers 200 {} as JSON with the API version header", async () => {
    const { c } = await fresh();
    const res = await c.call("GET", "/v2/");
    expectStatus(res, 200);
    assert.deepEqual(res.json(), {});
    assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
  });

  base("GET /v2 without the trailing slash and HEAD /v2/ answer 200", async () => {
    const { c } = await fresh();
    expectStatus(await c.call("GET", "/v2"), 200);
    expectStatus(await c.call("HEAD", "/v2/"), 200);
  });

  base("a wrong method on /v2/ is 405 UNSUPPORTED", async () => {
    const { c } = await fresh();
    expectError(await c.call("POST", "/v2/"), 405, "UNSUPPORTED");
    expectError(await c.call("DELETE", "/v2/"), 405, "UNSUPPORTED");
  });

  base.run();

  // ───────────────────────────── blobs ─────────────────────────────
  const blobs = group("blob GET/HEAD and ranges");

  blobs(
    "HEAD and GET headers: Content-Length, Docker-Content-Digest, Content-Type, ETag, Accept-Ranges",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(2048, 3);
      const digest = await pushBlob(c, "a", bytes);
      for (const method of ["HEAD", "GET"]) {
        const res = await c.call(method, `/v2/a/blobs/${digest}`);
        expectStatus(res, 200);
        assert.equal(res.headers.get("Content-Length"), "2048", `${method} Content-Length`);
        assert.equal(
          res.headers.get("Docker-Content-Digest"),
          digest,
          `${method} Docker-Content-Digest`,
        );
        assert.equal(
          res.headers.get("Content-Type"),
          "application/octet-stream",
          `${method} Content-Type`,
        );
        assert.equal(res.headers.get("ETag"), `"${digest}"`, `${method} ETag is the quoted digest`);
        assert.equal(res.headers.get("Accept-Ranges"), "bytes", `${method} Accept-Ranges`);
        if (method === "GET") equalBytes(res.body, bytes, "GET body");
      }
    },
  );

  blobs("unknown blob: HEAD 404 without body, GET 404 BLOB_UNKNOWN", async () => {
    const { c } = await fresh();
    await pushBlob(c, "a", utf8("something"));
    const unknown = digestOf(utf8("hello world"));
    expectError(await c.call("HEAD", `/v2/a/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
    expectError(await c.call("GET", `/v2/a/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
    expectError(await c.call("GET", `/v2/nothing/here/blobs/${unknown}`), 404, [
      "BLOB_UNKNOWN",
      "NAME_UNKNOWN",
    ]);
  });

  blobs("the six range cases on a 2048-byte blob", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2048, 11);
    const digest = await pushBlob(c, "a", bytes);
    const partial: [string, number, number][] = [
      ["bytes=500-1499", 500, 1499],
      ["bytes=500-", 500, 2047],
      ["bytes=-500", 1548, 2047],
      ["bytes=2000-5000", 2000, 2047],
    ];
    for (const [range, start, end] of partial) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 206);
      assert.equal(
        res.headers.get("Content-Range"),
        `bytes ${start}-${end}/2048`,
        `${range} Content-Range`,
      );
      assert.equal(
        res.headers.get("Content-Length"),
        String(end - start + 1),
        `${range} Content-Length`,
      );
      equalBytes(res.body, bytes.subarray(start, end + 1), `${range} body`);
    }
    for (const range of ["bytes=500-0", "bytes=5000-10000"]) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 416);
      assert.equal(res.headers.get("Content-Range"), "bytes */2048", `${range} Content-Range`);
    }
  });

  blobs("a zero-length suffix and starts beyond 2^53 are 416 with bytes */size", async () => {
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", randomBytes(2048, 14));
    for (const range of ["bytes=-0", "bytes=99999999999999999999-", "bytes=2048-2048"]) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectError(res, 416, "RANGE_INVALID");
      assert.equal(res.headers.get("Content-Range"), "bytes */2048", `${range} Content-Range`);
    }
  });

  blobs("multi-range and non-byte ranges never fail: 200 whole body or 206", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2048, 12);
    const digest = await pushBlob(c, "a", bytes);
    for (const range of ["bytes=0-1,5-6", "items=0-5", "bytes=abc"]) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 200, 206, 416);
      if (res.status === 200) equalBytes(res.body, bytes, `${range} whole body`);
    }
  });

  blobs("HEAD ignores Range (RFC 9110: ranges are defined for GET only)", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2048, 13);
    const digest = await pushBlob(c, "a", bytes);
    for (const range of ["bytes=0-9", "bytes=-5", "bytes=5000-10000", "bytes=500-0"]) {
      const res = await c.call("HEAD", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 200);
      assert.equal(res.headers.get("Content-Length"), "2048", `HEAD ${range}: whole length`);
      assert.equal(res.headers.get("Content-Range"), null, `HEAD ${range}: no Content-Range`);
      assert.equal(res.headers.get("Docker-Content-Digest"), digest);
    }
  });

  blobs("If-None-Match with the ETag answers 304; another ETag answers 200", async () => {
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", utf8("cache me"));
    for (const method of ["GET", "HEAD"]) {
      const hit = await c.call(method, `/v2/a/blobs/${digest}`, {
        headers: { "If-None-Match": `"${digest}"` },
      });
      expectStatus(hit, 304);
      assert.equal(hit.body.length, 0, "304 has no body");
      const miss = await c.call(method, `/v2/a/blobs/${digest}`, {
        headers: { "If-None-Match": `"${digestOf(utf8("other"))}"` },
      });
      expectStatus(miss, 200);
      // If-None-Match compares weakly (RFC 9110 §13.1.2): W/ does not matter; lists and * match.
      for (const value of [`W/"${digest}"`, `"x", W/"${digest}"`, "*"]) {
        const weak = await c.call(method, `/v2/a/blobs/${digest}`, {
          headers: { "If-None-Match": value },
        });
        expectStatus(weak, 304);
      }
    }
  });

  blobs("the empty blob: push, HEAD, GET, range, delete", async () => {
    const { c } = await fresh();
    const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${EMPTY_DIGEST}`, {
      body: new Uint8Array(0),
    });
    expectStatus(res, 201);
    assert.equal(res.headers.get("Docker-Content-Digest"), EMPTY_DIGEST);
    const head = await c.call("HEAD", `/v2/a/blobs/${EMPTY_DIGEST}`);
    expectStatus(head, 200);
    assert.equal(head.headers.get("Content-Length"), "0");
    const get = await c.call("GET", `/v2/a/blobs/${EMPTY_DIGEST}`);
    expectStatus(get, 200);
    assert.equal(get.body.length, 0);
    const range = await c.call("GET", `/v2/a/blobs/${EMPTY_DIGEST}`, {
      headers: { Range: "bytes=0-" },
    });
    expectStatus(range, 416, 200);
    if (range.status === 416) assert.equal(range.headers.get("Content-Range"), "bytes */0");
    // also through POST + PUT with no body
    const location = await startUpload(c, "b");
    const put = await c.call("PUT", withQuery(location, { digest: EMPTY_DIGEST }));
    expectStatus(put, 201);
    expectStatus(await c.call("HEAD", `/v2/b/blobs/${EMPTY_DIGEST}`), 200);
    expectStatus(await c.call("DELETE", `/v2/a/blobs/${EMPTY_DIGEST}`), 202);
    expectError(await c.call("GET", `/v2/a/blobs/${EMPTY_DIGEST}`), 404, "BLOB_UNKNOWN");
    expectStatus(await c.call("HEAD", `/v2/b/blobs/${EMPTY_DIGEST}`), 200);
  });

  blobs("the {} blob: push, HEAD, GET, range, delete", async () => {
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", EMPTY_JSON);
    assert.equal(digest, EMPTY_JSON_DIGEST);
    const head = await c.call("HEAD", `/v2/a/blobs/${digest}`);
    expectStatus(head, 200);
    assert.equal(head.headers.get("Content-Length"), "2");
    const get = await c.call("GET", `/v2/a/blobs/${digest}`);
    assert.equal(get.text, "{}");
    const range = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: "bytes=1-1" } });
    expectStatus(range, 206);
    assert.equal(range.text, "}");
    assert.equal(range.headers.get("Content-Range"), "bytes 1-1/2");
    expectStatus(await c.call("DELETE", `/v2/a/blobs/${digest}`), 202);
    expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  blobs(
    "sha512 blobs: single POST, sessions with ?digest-algorithm=sha512, GET by sha512",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(1000, 5);
      const d512 = digestOf(bytes, "sha512");
      const post = await c.call("POST", `/v2/a/blobs/uploads/?digest=${d512}`, { body: bytes });
      expectStatus(post, 201);
      assert.equal(post.headers.get("Docker-Content-Digest"), d512);
      assert.equal(locationOf(post), `/v2/a/blobs/${d512}`);
      const get = await c.call("GET", `/v2/a/blobs/${d512}`);
      expectStatus(get, 200);
      equalBytes(get.body, bytes, "sha512 blob body");
      assert.equal(get.headers.get("Docker-Content-Digest"), d512);
      const other = randomBytes(3000, 6);
      const o512 = digestOf(other, "sha512");
      const start = await c.call("POST", "/v2/b/blobs/uploads/?digest-algorithm=sha512");
      expectStatus(start, 202);
      const patch = await c.call("PATCH", locationOf(start), {
        headers: { "Content-Range": "0-1499", "Content-Type": "application/octet-stream" },
        body: other.subarray(0, 1500),
      });
      expectStatus(patch, 202);
      const put = await c.call("PUT", withQuery(locationOf(patch), { digest: o512 }), {
        headers: { "Content-Range": "1500-2999" },
        body: other.subarray(1500),
      });
      expectStatus(put, 201);
      assert.equal(put.headers.get("Docker-Content-Digest"), o512);
      const got = await c.call("GET", `/v2/b/blobs/${o512}`, { headers: { Range: "bytes=2990-" } });
      expectStatus(got, 206);
      equalBytes(got.body, other.subarray(2990), "sha512 ranged body");
      // a wrong sha512 digest is refused
      const bad = await c.call(
        "POST",
        `/v2/b/blobs/uploads/?digest=${digestOf(utf8("x"), "sha512")}`,
        {
          body: utf8("y"),
        },
      );
      expectError(bad, 400, "DIGEST_INVALID");
    },
  );

  blobs.run();

  // ───────────────────────────── uploads ─────────────────────────────
  const uploads = group("uploads");

  uploads(
    "POST answers 202 with Location, Range 0-0 (or none), Docker-Upload-UUID; ids differ",
    async () => {
      const { c } = await fresh();
      const first = await c.call("POST", "/v2/a/b/blobs/uploads/", {
        headers: { "Content-Length": "0" },
      });
      expectStatus(first, 202);
      const location = first.headers.get("Location") ?? "";
      assert.match(
        location,
        /^\/v2\/a\/b\/blobs\/uploads\/[A-Za-z0-9_=.~-]+(\?.*)?$/,
        "relative Location",
      );
      const range = first.headers.get("Range");
      assert.ok(range === null || range === "0-0", `Range is 0-0 or absent, got ${range}`);
      const uuid = first.headers.get("Docker-Upload-UUID") ?? "";
      assert.ok(uuid.length > 0, "Docker-Upload-UUID present");
      const id = new URL(location, "http://x").pathname.split("/").pop() ?? "";
      assert.ok(id.length >= 16, `session id is long enough to be unguessable: ${id}`);
      const min = first.headers.get("OCI-Chunk-Min-Length");
      if (min !== null) assert.match(min, /^\d+$/, "OCI-Chunk-Min-Length is a number");
      const second = await c.call("POST", "/v2/a/b/blobs/uploads/");
      assert.notEqual(locationOf(second), locationOf(first), "each session has its own Location");
    },
  );

  uploads("POST without the trailing slash starts a session too", async () => {
    const { c } = await fresh();
    const res = await c.call("POST", "/v2/a/blobs/uploads");
    expectStatus(res, 202);
    assert.ok(locationOf(res).startsWith("/v2/a/blobs/uploads/"));
  });

  uploads(
    "single POST with ?digest= stores the blob: 201, Location, Docker-Content-Digest",
    async () => {
      const { c } = await fresh();
      const bytes = configBlob("single-post");
      const digest = digestOf(bytes);
      expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${digest}`, {
        headers: { "Content-Type": "application/octet-stream" },
        body: bytes,
      });
      expectStatus(res, 201);
      assert.equal(locationOf(res), `/v2/a/blobs/${digest}`);
      assert.equal(res.headers.get("Docker-Content-Digest"), digest);
      const get = await c.call("GET", `/v2/a/blobs/${digest}`);
      expectStatus(get, 200);
      equalBytes(get.body, bytes, "blob body");
    },
  );

  uploads(
    "POST then monolithic PUT with the whole body: 201, Location, Docker-Content-Digest",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(5000, 9);
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const res = await c.call("PUT", withQuery(location, { digest }), {
        headers: { "Content-Type": "application/octet-stream" },
        body: bytes,
      });
      expectStatus(res, 201);
      assert.equal(locationOf(res), `/v2/a/blobs/${digest}`);
      assert.equal(res.headers.get("Docker-Content-Digest"), digest);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "blob body");
      // the session is over
      expectError(await c.call("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    },
  );

  uploads(
    "streamed PATCH without Content-Range (stream body, no length) then PUT without body",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(70000, 21);
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const first = await c.call("PATCH", location, {
        headers: { "Content-Type": "application/octet-stream" },
        body: streamOf([bytes.subarray(0, 1000), bytes.subarray(1000, 40000)]),
      });
      expectStatus(first, 202);
      assert.equal(first.headers.get("Range"), "0-39999");
      assert.ok(locationOf(first).startsWith("/v2/a/blobs/uploads/"));
      const second = await c.call("PATCH", locationOf(first), {
        body: streamOf([bytes.subarray(40000)]),
      });
      expectStatus(second, 202);
      assert.equal(second.headers.get("Range"), "0-69999");
      const put = await c.call("PUT", withQuery(locationOf(second), { digest }));
      expectStatus(put, 201);
      assert.equal(put.headers.get("Docker-Content-Digest"), digest);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "streamed blob");
    },
  );

  uploads(
    "chunked PATCHes with Content-Range, GET status 204, PUT with the final chunk",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(3000, 22);
      const digest = digestOf(bytes);
      let location = await startUpload(c, "a");
      const one = await c.call("PATCH", location, {
        headers: { "Content-Range": "0-999", "Content-Type": "application/octet-stream" },
        body: bytes.subarray(0, 1000),
      });
      expectStatus(one, 202);
      assert.equal(one.headers.get("Range"), "0-999");
      location = locationOf(one);
      const status = await c.call("GET", location);
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), "0-999");
      assert.ok(locationOf(status).startsWith("/v2/a/blobs/uploads/"));
      const two = await c.call("PATCH", locationOf(status), {
        headers: { "Content-Range": "1000-1999" },
        body: bytes.subarray(1000, 2000),
      });
      expectStatus(two, 202);
      assert.equal(two.headers.get("Range"), "0-1999");
      const put = await c.call("PUT", withQuery(locationOf(two), { digest }), {
        headers: { "Content-Range": "2000-2999" },
        body: bytes.subarray(2000),
      });
      expectStatus(put, 201);
      assert.equal(locationOf(put), `/v2/a/blobs/${digest}`);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "chunked blob");
    },
  );

  uploads("PUT may carry the final chunk without Content-Range", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2000, 23);
    const digest = digestOf(bytes);
    const location = await startUpload(c, "a");
    const one = await c.call("PATCH", location, {
      headers: { "Content-Range": "0-499" },
      body: bytes.subarray(0, 500),
    });
    expectStatus(one, 202);
    const put = await c.call("PUT", withQuery(locationOf(one), { digest }), {
      body: bytes.subarray(500),
    });
    expectStatus(put, 201);
    equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "blob");
  });

  uploads(
    "out-of-order chunk recovery: 416 with Range, GET 204 with Range and Location, continue",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(42, 24);
      const digest = digestOf(bytes);
      const chunk1 = bytes.subarray(0, 22);
      const chunk2 = bytes.subarray(22);
      // a second chunk before the first: 416
      const early = await startUpload(c, "a");
      const outOfOrder = await c.call("PATCH", early, {
        headers: { "Content-Range": "22-41", "Content-Type": "application/octet-stream" },
        body: chunk2,
      });
      expectError(outOfOrder, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);

      const first = await startUpload(c, "a");
      const one = await c.call("PATCH", first, {
        headers: { "Content-Range": "0-21" },
        body: chunk1,
      });
      expectStatus(one, 202);
      assert.equal(one.headers.get("Range"), "0-21");
      // retrying chunk 1 on the first Location: 416, and the answer says where the session is
      const retry = await c.call("PATCH", first, {
        headers: { "Content-Range": "0-21" },
        body: chunk1,
      });
      expectError(retry, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
      assert.equal(retry.headers.get("Range"), "0-21", "a 416 on PATCH tells the range received");
      // GET on the (stale) first Location: 204 with Range and a Location to continue from
      const status = await c.call("GET", first);
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), "0-21");
      const two = await c.call("PATCH", locationOf(status), {
        headers: { "Content-Range": "22-41" },
        body: chunk2,
      });
      expectStatus(two, 202);
      assert.equal(two.headers.get("Range"), "0-41");
      const put = await c.call("PUT", withQuery(locationOf(two), { digest }), {
        headers: { "Content-Length": "0" },
      });
      expectStatus(put, 201);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "recovered blob");
    },
  );

  uploads("out-of-order final chunk in PUT is 416 and nothing is stored", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(100, 25);
    const digest = digestOf(bytes);
    const location = await startUpload(c, "a");
    const one = await c.call("PATCH", location, {
      headers: { "Content-Range": "0-49" },
      body: bytes.subarray(0, 50),
    });
    expectStatus(one, 202);
    const put = await c.call("PUT", withQuery(locationOf(one), { digest }), {
      headers: { "Content-Range": "60-99" },
      body: bytes.subarray(60),
    });
    expectError(put, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
    expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  uploads(
    "a body shorter or longer than its Content-Range is refused and not appended",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      const short = await c.call("PATCH", location, {
        headers: { "Content-Range": "0-9" },
        body: utf8("12345"),
      });
      if (short.status === 416) {
        expectError(short, 416, [
          "RANGE_INVALID",
          "BLOB_UPLOAD_INVALID",
          "SIZE_INVALID",
        ]);
      } else expectError(short, 400, ["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      const long = await c.call("PATCH", location, {
        headers: { "Content-Range": "0-2" },
        body: utf8("12345"),
      });
      if (long.status === 416) {
        expectError(long, 416, [
          "RANGE_INVALID",
          "BLOB_UPLOAD_INVALID",
          "SIZE_INVALID",
        ]);
      } else expectError(long, 400, ["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      // whatever happened, nothing was appended: the session (if it still exists) is empty
      const status = await c.call("GET", location);
      if (status.status === 204) {
        const range = status.headers.get("Range");
        assert.ok(range === null || range === "0-0", `nothing appended, Range ${range}`);
      } else expectError(status, 404, "BLOB_UPLOAD_UNKNOWN");
    },
  );

  uploads(
    "wrong size: a final chunk whose Content-Range disagrees with its body is refused",
    async () => {
      const { c } = await fresh();
      const bytes = utf8("0123456789");
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const put = await c.call("PUT", withQuery(location, { digest }), {
        headers: { "Content-Range": "0-19" },
        body: bytes,
      });
      if (put.status === 416) {
        expectError(put, 416, [
          "RANGE_INVALID",
          "BLOB_UPLOAD_INVALID",
          "SIZE_INVALID",
        ]);
      } else expectError(put, 400, ["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    },
  );

  uploads(
    "a session survives a restart and moves between replicas (same storage, new registries)",
    async () => {
      const storage = await makeStorage();
      const r1 = client(createRegistry({ storage }));
      const r2 = client(createRegistry({ storage }));
      const bytes = randomBytes(9000, 26);
      const digest = digestOf(bytes);
      const location = await startUpload(r1, "a");
      const one = await r1.call("PATCH", location, {
        headers: { "Content-Range": "0-2999" },
        body: bytes.subarray(0, 3000),
      });
      expectStatus(one, 202);
      const status = await r2.call("GET", locationOf(one));
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), "0-2999");
      const two = await r2.call("PATCH", locationOf(one), {
        body: streamOf([bytes.subarray(3000, 6000)]),
      });
      expectStatus(two, 202);
      assert.equal(two.headers.get("Range"), "0-5999");
      const three = await r1.call("PATCH", locationOf(two), {
        headers: { "Content-Range": "6000-8999" },
        body: bytes.subarray(6000),
      });
      expectStatus(three, 202);
      const restarted = client(createRegistry({ storage }));
      const put = await restarted.call("PUT", withQuery(locationOf(three), { digest }));
      expectStatus(put, 201);
      equalBytes(
        (await r1.call("GET", `/v2/a/blobs/${digest}`)).body,
        bytes,
        "blob pushed across replicas",
      );
    },
  );

  uploads(
    "two concurrent PATCHes at the same offset: one 202, one 416, and the winner's bytes kept",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      const bodies = [randomBytes(1000, 27), randomBytes(1000, 28)];
      const answers = await Promise.all(
        bodies.map((body) =>
          c.call("PATCH", location, {
            headers: { "Content-Range": "0-999" },
            body: streamOf([body.subarray(0, 500), body.subarray(500)]),
          })
        ),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [202, 416]);
      const winner = bodies[answers.findIndex((a) => a.status === 202)];
      const status = await c.call("GET", location);
      assert.equal(status.headers.get("Range"), "0-999");
      const put = await c.call("PUT", withQuery(location, { digest: digestOf(winner) }));
      expectStatus(put, 201);
    },
  );

  uploads("a PATCH whose body fails midway appends nothing; the session continues", async () => {
    const { c } = await fresh({ logger: { error: () => {} } });
    const bytes = randomBytes(2000, 29);
    const location = await startUpload(c, "a");
    const one = await c.call("PATCH", location, {
      headers: { "Content-Range": "0-999" },
      body: bytes.subarray(0, 1000),
    });
    expectStatus(one, 202);
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(bytes.subarray(1000, 1500));
        } else controller.error(new Error("client went away"));
      },
    });
    let failed = false;
    try {
      const res = await c.call("PATCH", locationOf(one), { body: broken });
      assert.ok(res.status >= 400, `a broken body is not accepted: ${res.status}`);
      failed = true;
    } catch {
      failed = true; // the runtime may surface the body error to the caller instead
    }
    assert.ok(failed);
    const status = await c.call("GET", locationOf(one));
    expectStatus(status, 204);
    assert.equal(status.headers.get("Range"), "0-999", "nothing of the broken PATCH was appended");
    const two = await c.call("PATCH", locationOf(status), {
      headers: { "Content-Range": "1000-1999" },
      body: bytes.subarray(1000),
    });
    expectStatus(two, 202);
    expectStatus(await c.call("PUT", withQuery(locationOf(two), { digest: digestOf(bytes) })), 201);
  });

  uploads(
    "a 12 MiB blob in uneven chunks (crossing 5 MiB part boundaries) reads back whole and in ranges",
    async () => {
      const { c } = await fresh();
      const size = 12 * 1024 * 1024 + 17;
      const bytes = randomBytes(size, 30);
      const digest = digestOf(bytes);
      let location = await startUpload(c, "big");
      const cuts = [0, 3_000_001, 6_500_000, 6_500_001, 11_000_000, size];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const res = await c.call("PATCH", location, {
          headers: { "Content-Range": `${cuts[i]}-${cuts[i + 1] - 1}` },
          body: bytes.subarray(cuts[i], cuts[i + 1]),
        });
        expectStatus(res, 202);
        assert.equal(res.headers.get("Range"), `0-${cuts[i + 1] - 1}`);
        location = locationOf(res);
      }
      expectStatus(await c.call("PUT", withQuery(location, { digest })), 201);
      const head = await c.call("HEAD", `/v2/big/blobs/${digest}`);
      assert.equal(head.headers.get("Content-Length"), String(size));
      const part = 5 * 1024 * 1024;
      for (
        const [start, end] of [[part - 10, part + 10], [2 * part - 1, 2 * part], [
          size - 20,
          size - 1,
        ]]
      ) {
        const res = await c.call("GET", `/v2/big/blobs/${digest}`, {
          headers: { Range: `bytes=${start}-${end}` },
        });
        expectStatus(res, 206);
        equalBytes(res.body, bytes.subarray(start, end + 1), `range ${start}-${end}`);
      }
      const whole = await c.call("GET", `/v2/big/blobs/${digest}`);
      expectStatus(whole, 200);
      assert.equal(digestOf(whole.body), digest, "whole body digest");
    },
  );

  uploads("single POST with ?digest= and a streamed body (no length)", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(100_000, 32);
    const digest = digestOf(bytes);
    const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${digest}`, {
      body: streamOf([bytes.subarray(0, 10), bytes.subarray(10, 60_000), bytes.subarray(60_000)]),
    });
    expectStatus(res, 201);
    equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "streamed single POST");
  });

  uploads("an unsupported ?digest-algorithm= is 400 DIGEST_INVALID", async () => {
    const { c } = await fresh();
    for (const algorithm of ["md5", "sha384", "SHA256", "blake3"]) {
      const res = await c.call("POST", `/v2/a/blobs/uploads/?digest-algorithm=${algorithm}`);
      expectError(res, 400, "DIGEST_INVALID");
    }
  });

  uploads(
    "a malformed Content-Range on PATCH is refused (400 BLOB_UPLOAD_INVALID or 416)",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      for (const range of ["abc", "5-3", "0-", "-4"]) {
        const res = await c.call("PATCH", location, {
          headers: { "Content-Range": range },
          body: utf8("12345"),
        });
        if (res.status === 416) expectError(res, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
        else expectError(res, 400, ["BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      }
      const status = await c.call("GET", location);
      expectStatus(status, 204);
      const range = status.headers.get("Range");
      assert.ok(range === null || range === "0-0", `nothing appended, Range ${range}`);
    },
  );

  uploads("PUT without ?digest= is 400 DIGEST_INVALID", async () => {
    const { c } = await fresh();
    const location = await startUpload(c, "a");
    expectError(await c.call("PUT", location, { body: utf8("abc") }), 400, "DIGEST_INVALID");
  });

  uploads(
    "a session used under another repository name is BLOB_UPLOAD_UNKNOWN, and survives",
    async () => {
      const { c } = await fresh();
      const bytes = utf8("belongs to a");
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const elsewhere = location.replace(/^\/v2\/a\//, "/v2/b/");
      assert.notEqual(elsewhere, location);
      expectError(await c.call("GET", elsewhere), 404, "BLOB_UPLOAD_UNKNOWN");
      expectError(await c.call("PATCH", elsewhere, { body: bytes }), 404, "BLOB_UPLOAD_UNKNOWN");
      expectError(
        await c.call("PUT", withQuery(elsewhere, { digest }), { body: bytes }),
        404,
        "BLOB_UPLOAD_UNKNOWN",
      );
      expectError(await c.call("DELETE", elsewhere), 404, "BLOB_UPLOAD_UNKNOWN");
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      // still usable in a
      const put = await c.call("PUT", withQuery(location, { digest }), { body: bytes });
      expectStatus(put, 201);
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    },
  );

  uploads(
    "unknown session ids are 404 BLOB_UPLOAD_UNKNOWN on GET, PATCH, PUT, DELETE",
    async () => {
      const { c } = await fresh();
      const path = "/v2/a/blobs/uploads/doesnotexist0123456789";
      expectError(await c.call("GET", path), 404, "BLOB_UPLOAD_UNKNOWN");
      expectError(await c.call("PATCH", path, { body: utf8("x") }), 404, "BLOB_UPLOAD_UNKNOWN");
      expectError(
        await c.call("PUT", withQuery(path, { digest: digestOf(utf8("x")) }), { body: utf8("x") }),
        404,
        "BLOB_UPLOAD_UNKNOWN",
      );
      expectError(await c.call("DELETE", path), 404, "BLOB_UPLOAD_UNKNOWN");
    },
  );

  /** A request body that sends `first`, then holds until `release(rest)`. */
  function heldBody(first: Uint8Array) {
    let release!: (rest: Uint8Array) => void;
    const rest = new Promise<Uint8Array>((resolve) => release = resolve);
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(first);
          return;
        }
        const last = await rest;
        if (last.byteLength > 0) controller.enqueue(last);
        controller.close();
      },
    });
    return { stream, release };
  }

  /** A promise and the function that resolves it. */
  function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((r) => resolve = r);
    return { promise, resolve };
  }

  /**
   * `inner` with hooks: `append` is told when an append starts, `commit` is awaited before a
   * commit runs.
   */
  function hooked(
    inner: Storage,
    hooks: { append?: () => void; commit?: () => Promise<unknown> },
  ): Storage {
    const uploads = new Proxy(inner.uploads, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        const call = (args: unknown[]) =>
          (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (key === "append" && hooks.append) {
          return (...args: unknown[]) => {
            hooks.append!();
            return call(args);
          };
        }
        if (key === "commit" && hooks.commit) {
          return async (...args: unknown[]) => {
            await hooks.commit!();
            return await call(args);
          };
        }
        return (...args: unknown[]) => call(args);
      },
    });
    return {
      blobs: inner.blobs,
      uploads,
      manifests: inner.manifests,
      tags: inner.tags,
      repositories: (options) => inner.repositories(options),
    };
  }

  uploads(
    "a PUT while a PATCH of the same session streams is 416; the PATCH's bytes are all committed",
    async () => {
      let appending = signal();
      const storage = hooked(await makeStorage(), { append: () => appending.resolve() });
      const c = client(createRegistry({ storage }));
      const head = randomBytes(3000, 61);
      const tail = randomBytes(5000, 62);
      const bytes = new Uint8Array([...utf8("0123456789"), ...head, ...tail]);
      const location = await startUpload(c, "a");
      const first = await c.call("PATCH", location, { body: utf8("0123456789") });
      expectStatus(first, 202);
      appending = signal();
      const held = heldBody(head);
      const patching = c.call("PATCH", locationOf(first), { body: held.stream });
      await appending.promise;
      const early = await c.call("PUT", withQuery(locationOf(first), { digest: digestOf(bytes) }));
      expectError(early, 416, "RANGE_INVALID");
      assert.equal(early.headers.get("Range"), "0-9", "416 tells the bytes received so far");
      held.release(tail);
      const patched = await patching;
      expectStatus(patched, 202);
      assert.equal(patched.headers.get("Range"), `0-${bytes.byteLength - 1}`);
      const put = await c.call("PUT", withQuery(locationOf(patched), { digest: digestOf(bytes) }));
      expectStatus(put, 201);
      const got = await c.call("GET", `/v2/a/blobs/${digestOf(bytes)}`);
      equalBytes(got.body, bytes, "committed blob");
    },
  );

  uploads(
    "a PATCH while the PUT of the same session streams its last chunk is 416; the PUT commits",
    async () => {
      const appending = signal();
      const storage = hooked(await makeStorage(), { append: () => appending.resolve() });
      const c = client(createRegistry({ storage }));
      const head = randomBytes(4000, 63);
      const tail = randomBytes(4000, 64);
      const bytes = new Uint8Array([...head, ...tail]);
      const location = await startUpload(c, "a");
      const held = heldBody(head);
      const putting = c.call("PUT", withQuery(location, { digest: digestOf(bytes) }), {
        body: held.stream,
      });
      await appending.promise;
      const late = await c.call("PATCH", location, { body: utf8("intruder") });
      expectError(late, 416, "RANGE_INVALID");
      held.release(tail);
      expectStatus(await putting, 201);
      const got = await c.call("GET", `/v2/a/blobs/${digestOf(bytes)}`);
      equalBytes(got.body, bytes, "committed blob holds exactly the verified bytes");
    },
  );

  uploads(
    "bytes appended by another process between the digest check and the commit: never a 201",
    async () => {
      const inner = await makeStorage();
      // The commit waits until another registry over the same storage (another process, which
      // this one's per-session guard cannot see) has appended to the session.
      const committing = signal();
      const appended = signal<unknown>();
      const storage = hooked(inner, {
        commit: () => {
          committing.resolve();
          return appended.promise;
        },
      });
      const logged: string[] = [];
      const logger = { error: (error: unknown) => logged.push(String(error)) };
      const one = client(createRegistry({ storage, logger }));
      const two = client(createRegistry({ storage: inner, logger }));
      const bytes = randomBytes(6000, 65);
      const location = await startUpload(one, "a");
      expectStatus(await one.call("PATCH", location, { body: bytes }), 202);
      const putting = one.call("PUT", withQuery(location, { digest: digestOf(bytes) }));
      await committing.promise;
      const extra = await two.call("PATCH", location, {
        headers: { "Content-Range": "6000-6001" },
        body: utf8("!!"),
      });
      appended.resolve(extra);
      const put = await putting;
      assert.notEqual(put.status, 201, "a commit of other bytes than the verified ones is no 201");
      expectStatus(put, 416, 500);
      const got = await one.call("GET", `/v2/a/blobs/${digestOf(bytes)}`);
      if (got.status === 200) {
        equalBytes(got.body, bytes, "a visible blob holds the verified bytes");
      } else expectError(got, 404, "BLOB_UNKNOWN");
      if (put.status === 500) assert.match(logged.join("\n"), /verified 6000/);
    },
  );

  uploads("cancel: DELETE on the session answers 204, then the session is 404", async () => {
    const { c } = await fresh();
    const location = await startUpload(c, "a");
    const one = await c.call("PATCH", location, { body: utf8("some bytes") });
    expectStatus(one, 202);
    const del = await c.call("DELETE", locationOf(one));
    expectStatus(del, 204);
    expectError(await c.call("GET", locationOf(one)), 404, "BLOB_UPLOAD_UNKNOWN");
    expectError(
      await c.call("PATCH", locationOf(one), { body: utf8("more") }),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
    expectError(
      await c.call("PUT", withQuery(locationOf(one), { digest: digestOf(utf8("some bytes")) })),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
    expectError(
      await c.call("GET", `/v2/a/blobs/${digestOf(utf8("some bytes"))}`),
      404,
      "BLOB_UNKNOWN",
    );
  });

  uploads.run();

  // ───────────────────────────── bad digests ─────────────────────────────
  const badDigest = group("bad digests on upload");
  const content = randomBytes(4096, 31);
  const actual = digestOf(content);
  const claimed = digestOf(utf8("not the content"));

  async function nothingVisible(c: Client, name: string): Promise<void> {
    expectError(await c.call("GET", `/v2/${name}/blobs/${actual}`), 404, "BLOB_UNKNOWN");
    expectError(await c.call("GET", `/v2/${name}/blobs/${claimed}`), 404, "BLOB_UNKNOWN");
    expectStatus(await c.call("HEAD", `/v2/${name}/blobs/${actual}`), 404);
    expectStatus(await c.call("HEAD", `/v2/${name}/blobs/${claimed}`), 404);
  }

  badDigest(
    "single POST ?digest= with the wrong digest: 400 DIGEST_INVALID, nothing visible",
    async () => {
      const { c } = await fresh();
      const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${claimed}`, { body: content });
      expectError(res, 400, "DIGEST_INVALID");
      await nothingVisible(c, "a");
    },
  );

  badDigest(
    "POST then PUT with the body and the wrong digest: 400 DIGEST_INVALID, nothing visible",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      expectError(
        await c.call("PUT", withQuery(location, { digest: claimed }), { body: content }),
        400,
        "DIGEST_INVALID",
      );
      await nothingVisible(c, "a");
    },
  );

  for (const lastChunkInPut of [false, true]) {
    badDigest(
      `chunked, ${
        lastChunkInPut ? "the last chunk in the PUT" : "every chunk PATCHed"
      }, wrong digest: 400 DIGEST_INVALID, nothing visible`,
      async () => {
        const { c } = await fresh();
        const location = await startUpload(c, "a");
        const one = await c.call("PATCH", location, {
          headers: { "Content-Range": "0-2047" },
          body: content.subarray(0, 2048),
        });
        expectStatus(one, 202);
        const last = { headers: { "Content-Range": "2048-4095" }, body: content.subarray(2048) };
        let complete = locationOf(one);
        if (!lastChunkInPut) {
          const two = await c.call("PATCH", complete, last);
          expectStatus(two, 202);
          complete = locationOf(two);
        }
        const put = await c.call(
          "PUT",
          withQuery(complete, { digest: claimed }),
          lastChunkInPut ? last : {},
        );
        expectError(put, 400, "DIGEST_INVALID");
        await nothingVisible(c, "a");
      },
    );
  }

  badDigest(
    "streamed PATCH (no Content-Range) then PUT with the wrong digest: 400 DIGEST_INVALID",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      const one = await c.call("PATCH", location, {
        body: streamOf([content.subarray(0, 100), content.subarray(100)]),
      });
      expectStatus(one, 202);
      expectError(
        await c.call("PUT", withQuery(locationOf(one), { digest: claimed })),
        400,
        "DIGEST_INVALID",
      );
      await nothingVisible(c, "a");
    },
  );

  badDigest(
    "a sha512 session finished with a wrong sha256 digest is 400 DIGEST_INVALID",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a", "?digest-algorithm=sha512");
      const one = await c.call("PATCH", location, { body: content });
      expectStatus(one, 202);
      expectError(
        await c.call("PUT", withQuery(locationOf(one), { digest: claimed })),
        400,
        "DIGEST_INVALID",
      );
      await nothingVisible(c, "a");
    },
  );

  badDigest.run();

  // ───────────────────────────── mounts and visibility ─────────────────────────────
  const mounts = group("cross-repository mounts and per-repository visibility");

  mounts(
    "a blob pushed to a is 404 in b until mounted; mount answers 201 with Location",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(1234, 41);
      const digest = await pushBlob(c, "a", bytes);
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      expectStatus(await c.call("HEAD", `/v2/b/blobs/${digest}`), 404);
      const mount = await c.call("POST", `/v2/b/blobs/uploads/?mount=${digest}&from=a`);
      expectStatus(mount, 201);
      assert.equal(locationOf(mount), `/v2/b/blobs/${digest}`);
      assert.equal(mount.headers.get("Docker-Content-Digest"), digest);
      const get = await c.call("GET", locationOf(mount));
      expectStatus(get, 200);
      equalBytes(get.body, bytes, "mounted blob");
      // deleting from a leaves b's copy
      expectStatus(await c.call("DELETE", `/v2/a/blobs/${digest}`), 202);
      expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      expectStatus(await c.call("GET", `/v2/b/blobs/${digest}`), 200);
    },
  );

  mounts("mount without from answers 202 with a usable session", async () => {
    const { c } = await fresh();
    const bytes = utf8("not mounted");
    const digest = digestOf(bytes);
    const res = await c.call("POST", `/v2/b/blobs/uploads/?mount=${digestOf(utf8("hello world"))}`);
    expectStatus(res, 202);
    const location = locationOf(res);
    assert.ok(location.startsWith("/v2/b/blobs/uploads/"));
    expectStatus(await c.call("PUT", withQuery(location, { digest }), { body: bytes }), 201);
    expectStatus(await c.call("GET", `/v2/b/blobs/${digest}`), 200);
  });

  mounts("mount from a repository lacking the blob answers 202 with a usable session", async () => {
    const { c } = await fresh();
    const bytes = utf8("only in c");
    const digest = await pushBlob(c, "c", bytes);
    await pushBlob(c, "a", utf8("a exists"));
    for (const from of ["a", "never/was"]) {
      const res = await c.call("POST", `/v2/b/blobs/uploads/?mount=${digest}&from=${from}`);
      expectStatus(res, 202);
      assert.ok(locationOf(res).startsWith("/v2/b/blobs/uploads/"), "the fallback session is in b");
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      expectStatus(
        await c.call("PUT", withQuery(locationOf(res), { digest }), { body: bytes }),
        201,
      );
      expectStatus(await c.call("DELETE", `/v2/b/blobs/${digest}`), 202);
    }
  });

  mounts(
    "a malformed mount digest or from is 400 (DIGEST_INVALID / NAME_INVALID) or the 202 fallback",
    async () => {
      const { c } = await fresh();
      const digest = await pushBlob(c, "a", utf8("x"));
      const malformed = await c.call("POST", "/v2/b/blobs/uploads/?mount=sha256:nothex&from=a");
      if (malformed.status === 202) {
        assert.ok(locationOf(malformed).startsWith("/v2/b/blobs/uploads/"));
      } else expectError(malformed, 400, "DIGEST_INVALID");
      const res = await c.call("POST", `/v2/b/blobs/uploads/?mount=${digest}&from=Not..Valid`);
      if (res.status === 202) assert.ok(locationOf(res).startsWith("/v2/b/blobs/uploads/"));
      else expectError(res, 400, "NAME_INVALID");
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    },
  );

  mounts(
    "a manifest in b may not reference a blob only a holds: MANIFEST_BLOB_UNKNOWN",
    async () => {
      const { c } = await fresh();
      const image = await pushImageBlobs(c, "a", "vis");
      const res = await putManifest(c, "b", image.manifest, "v1");
      const errors = expectError(res, 400, "MANIFEST_BLOB_UNKNOWN");
      assert.ok(
        detailText(errors).includes(digestOf(image.config)) ||
          detailText(errors).includes(digestOf(image.layer)),
        "detail names a missing digest",
      );
      await pushManifest(c, "a", image.manifest, "v1");
      expectError(await c.call("GET", `/v2/b/manifests/${image.manifest.digest}`), 404, [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
      ]);
    },
  );

  mounts(
    "an index in b may not reference manifests only a holds: MANIFEST_BLOB_UNKNOWN",
    async () => {
      const { c } = await fresh();
      const image = await pushImage(c, "a", "idx-vis", "v1");
      const index = ociIndex({ manifests: [image.manifest.descriptor] });
      const errors = expectError(
        await putManifest(c, "b", index, "v1"),
        400,
        "MANIFEST_BLOB_UNKNOWN",
      );
      assert.ok(
        detailText(errors).includes(image.manifest.digest),
        "detail names the missing manifest",
      );
      await pushManifest(c, "a", index, "v1-index");
    },
  );

  mounts.run();

  // ───────────────────────────── manifests ─────────────────────────────
  const manifests = group("manifests");

  manifests(
    "PUT by tag: 201, Location, Docker-Content-Digest; exact bytes and headers on GET and HEAD",
    async () => {
      const { c } = await fresh();
      const { manifest } = await pushImageBlobs(c, "a", "m1");
      const put = await putManifest(c, "a", manifest, "v1");
      expectStatus(put, 201);
      assert.equal(put.headers.get("Docker-Content-Digest"), manifest.digest);
      const location = locationOf(put);
      assert.ok(location.startsWith("/v2/a/manifests/"), `Location ${location}`);
      expectStatus(await c.call("GET", location), 200);
      for (const ref of ["v1", manifest.digest]) {
        for (const method of ["GET", "HEAD"]) {
          const res = await c.call(method, `/v2/a/manifests/${ref}`, {
            headers: { Accept: OCI_MANIFEST },
          });
          expectStatus(res, 200);
          assert.equal(
            res.headers.get("Content-Type"),
            OCI_MANIFEST,
            `${method} ${ref} Content-Type`,
          );
          assert.equal(
            res.headers.get("Content-Length"),
            String(manifest.size),
            `${method} ${ref} Content-Length`,
          );
          assert.equal(
            res.headers.get("Docker-Content-Digest"),
            manifest.digest,
            `${method} ${ref} digest`,
          );
          assert.ok(
            (res.headers.get("ETag") ?? "").includes(manifest.digest),
            `${method} ${ref} ETag`,
          );
          if (method === "GET") equalBytes(res.body, manifest.bytes, "exact manifest bytes");
        }
      }
    },
  );

  manifests(
    "If-None-Match with the ETag answers 304 (weak, lists and *); another answers 200",
    async () => {
      const { c } = await fresh();
      const { manifest } = await pushImage(c, "a", "m-etag", "v1");
      for (const ref of ["v1", manifest.digest]) {
        for (const method of ["GET", "HEAD"]) {
          for (
            const value of [
              `"${manifest.digest}"`,
              `W/"${manifest.digest}"`,
              `"x", W/"${manifest.digest}"`,
              "*",
            ]
          ) {
            const hit = await c.call(method, `/v2/a/manifests/${ref}`, {
              headers: { Accept: OCI_MANIFEST, "If-None-Match": value },
            });
            expectStatus(hit, 304);
            assert.equal(hit.body.length, 0, `${method} ${ref} ${value}: 304 has no body`);
          }
          const miss = await c.call(method, `/v2/a/manifests/${ref}`, {
            headers: { Accept: OCI_MANIFEST, "If-None-Match": `"${digestOf(utf8("other"))}"` },
          });
          expectStatus(miss, 200);
        }
      }
    },
  );

  manifests("PUT by digest stores it; the same bytes under several tags", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImageBlobs(c, "a", "m2");
    const put = await pushManifest(c, "a", manifest, manifest.digest);
    assert.equal(put.headers.get("Docker-Content-Digest"), manifest.digest);
    for (const tag of ["test0", "test1", "test2", "test3"]) {
      const res = await pushManifest(c, "a", manifest, tag);
      assert.ok(res.headers.get("Location"));
    }
    assert.deepEqual(await tagsOf(c, "a"), ["test0", "test1", "test2", "test3"]);
  });

  manifests(
    "unknown manifests: 404 MANIFEST_UNKNOWN by tag and by digest, HEAD without body",
    async () => {
      const { c } = await fresh();
      await pushImage(c, "a", "m3", "v1");
      const unknown = digestOf(utf8("nope"));
      expectError(await c.call("GET", "/v2/a/manifests/v2"), 404, "MANIFEST_UNKNOWN");
      expectError(await c.call("GET", `/v2/a/manifests/${unknown}`), 404, "MANIFEST_UNKNOWN");
      expectError(await c.call("HEAD", "/v2/a/manifests/v2"), 404, "MANIFEST_UNKNOWN");
      expectError(await c.call("GET", "/v2/unknown/repo/manifests/v1"), 404, [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
      ]);
    },
  );

  manifests("an invalid tag on GET/HEAD is 404 (conformance: .INVALID_MANIFEST_NAME)", async () => {
    const { c } = await fresh();
    await pushImage(c, "a", "m4", "v1");
    expectError(
      await c.call("GET", "/v2/a/manifests/.INVALID_MANIFEST_NAME"),
      404,
      "MANIFEST_UNKNOWN",
    );
    expectStatus(await c.call("HEAD", "/v2/a/manifests/.INVALID_MANIFEST_NAME"), 404);
  });

  manifests("an invalid tag on PUT is 400", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImageBlobs(c, "a", "m5");
    for (const tag of [".hidden", "-dash", "a".repeat(129), "t%2Bplus"]) {
      expectError(await putManifest(c, "a", manifest, tag), 400, [
        "TAG_INVALID",
        "MANIFEST_INVALID",
      ]);
    }
    expectStatus(await putManifest(c, "a", manifest, "a".repeat(128)), 201);
    expectStatus(await putManifest(c, "a", manifest, "_x.Y-z"), 201);
  });

  manifests(
    "PUT of the same manifest under the same tag again is 201 and changes nothing",
    async () => {
      const { c } = await fresh();
      const image = await pushImage(c, "a", "again", "v1");
      const res = await pushManifest(c, "a", image.manifest, "v1");
      assert.equal(res.headers.get("Docker-Content-Digest"), image.manifest.digest);
      await pushManifest(c, "a", image.manifest, image.manifest.digest);
      assert.deepEqual(await tagsOf(c, "a"), ["v1"]);
      const get = await c.call("GET", "/v2/a/manifests/v1");
      equalBytes(get.body, image.manifest.bytes, "same bytes");
    },
  );

  manifests(
    "schemaVersion other than 2 and malformed descriptors are 400 MANIFEST_INVALID",
    async () => {
      const { c } = await fresh();
      const config = configBlob("malformed");
      await pushBlob(c, "a", config);
      const good = describe(OCI_CONFIG, config);
      const bodies: unknown[] = [
        { schemaVersion: 1, mediaType: OCI_MANIFEST, config: good, layers: [] },
        { mediaType: OCI_MANIFEST, config: good, layers: [] },
        { schemaVersion: 2, mediaType: OCI_MANIFEST, config: good, layers: {} },
        { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...good, size: "12" }, layers: [] },
        {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { ...good, digest: "sha256:zz" },
          layers: [],
        },
        { schemaVersion: 2, mediaType: OCI_MANIFEST, config: "nope", layers: [] },
        { schemaVersion: 2, mediaType: OCI_INDEX, manifests: "nope" },
      ];
      for (const body of bodies) {
        const type = (body as { mediaType: string }).mediaType;
        const m = buildManifest(body, type);
        expectError(await putManifest(c, "a", m, "bad"), 400, [
          "MANIFEST_INVALID",
          "MANIFEST_BLOB_UNKNOWN",
        ]);
      }
      expectError(await c.call("GET", "/v2/a/manifests/bad"), 404, [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
      ]);
    },
  );

  manifests("a tag moves to a new manifest; the old one stays reachable by digest", async () => {
    const { c } = await fresh();
    const one = await pushImage(c, "a", "m6a", "latest");
    const two = await pushImage(c, "a", "m6b", "latest");
    const res = await c.call("GET", "/v2/a/manifests/latest");
    assert.equal(res.headers.get("Docker-Content-Digest"), two.manifest.digest);
    expectStatus(await c.call("GET", `/v2/a/manifests/${one.manifest.digest}`), 200);
  });

  manifests(
    "PUT by digest with the wrong digest is 400 DIGEST_INVALID and stores nothing",
    async () => {
      const { c } = await fresh();
      const { manifest } = await pushImageBlobs(c, "a", "m7");
      const wrong = digestOf(utf8("another manifest"));
      expectError(await putManifest(c, "a", manifest, wrong), 400, "DIGEST_INVALID");
      expectError(await c.call("GET", `/v2/a/manifests/${wrong}`), 404, [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
      ]);
      expectError(await c.call("GET", `/v2/a/manifests/${manifest.digest}`), 404, [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
      ]);
    },
  );

  manifests("PUT by sha512 digest verifies with sha512", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImageBlobs(c, "a", "m8");
    const d512 = digestOf(manifest.bytes, "sha512");
    const put = await putManifest(c, "a", manifest, d512);
    expectStatus(put, 201);
    assert.equal(put.headers.get("Docker-Content-Digest"), d512);
    const get = await c.call("GET", `/v2/a/manifests/${d512}`);
    expectStatus(get, 200);
    equalBytes(get.body, manifest.bytes, "sha512 manifest");
    expectError(
      await putManifest(c, "a", manifest, digestOf(utf8("x"), "sha512")),
      400,
      "DIGEST_INVALID",
    );
  });

  manifests(
    "Content-Type round trip for every accepted type; HEAD has Content-Type and Content-Length",
    async () => {
      const { c } = await fresh();
      const dConfig = configBlob("docker");
      const dLayer = randomBytes(500, 51);
      await pushBlob(c, "a", dConfig);
      await pushBlob(c, "a", dLayer);
      const docker = dockerManifest(describe(DOCKER_CONFIG, dConfig), [
        describe(DOCKER_LAYER, dLayer),
      ]);
      const { manifest: oci } = await pushImageBlobs(c, "a", "rt");
      const list = dockerManifestList([{
        ...docker.descriptor,
        platform: { architecture: "amd64", os: "linux" },
      }]);
      const index = ociIndex({
        manifests: [{ ...oci.descriptor, platform: { architecture: "arm64", os: "linux" } }],
      });
      const all: [string, BuiltManifest][] = [["docker", docker], ["oci", oci], ["list", list], [
        "index",
        index,
      ]];
      for (const [tag, m] of all) {
        const put = await pushManifest(c, "a", m, tag);
        assert.equal(put.headers.get("Docker-Content-Digest"), m.digest, `${tag} digest`);
      }
      for (const [tag, m] of all) {
        const get = await c.call("GET", `/v2/a/manifests/${tag}`);
        expectStatus(get, 200);
        assert.equal(get.headers.get("Content-Type"), m.mediaType, `${tag} Content-Type`);
        equalBytes(get.body, m.bytes, `${tag} bytes`);
        const head = await c.call("HEAD", `/v2/a/manifests/${m.digest}`);
        assert.equal(head.headers.get("Content-Type"), m.mediaType, `${tag} HEAD Content-Type`);
        assert.equal(
          head.headers.get("Content-Length"),
          String(m.size),
          `${tag} HEAD Content-Length`,
        );
        assert.equal(head.headers.get("Docker-Content-Digest"), m.digest, `${tag} HEAD digest`);
      }
    },
  );

  manifests("Content-Type parameters are ignored", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImageBlobs(c, "a", "params");
    const put = await putManifest(c, "a", manifest, "v1", `${OCI_MANIFEST}; charset=utf-8`);
    expectStatus(put, 201);
    const get = await c.call("GET", "/v2/a/manifests/v1");
    assert.equal((get.headers.get("Content-Type") ?? "").split(";")[0].trim(), OCI_MANIFEST);
  });

  manifests(
    "unknown fields, the data field and a missing mediaType field are accepted (conformance fixtures)",
    async () => {
      const { c } = await fresh();
      const config = configBlob("fixtures");
      const layer = randomBytes(100, 52);
      await pushBlob(c, "a", config);
      await pushBlob(c, "a", layer);
      const b64 = btoa(String.fromCharCode(...config));
      const withData = buildManifest(
        {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: {
            ...describe(OCI_CONFIG, config),
            data: b64,
            newUnspecifiedField: btoa("hello world"),
          },
          layers: [describe(OCI_LAYER, layer)],
        },
        OCI_MANIFEST,
        "\t",
      );
      await pushManifest(c, "a", withData, "data");
      const noMediaType = ociManifest({
        mediaType: null,
        config: describe(OCI_CONFIG, config),
        layers: [],
      });
      const put = await pushManifest(c, "a", noMediaType, "emptylayer");
      assert.ok(put.headers.get("Location"));
      const get = await c.call("GET", "/v2/a/manifests/emptylayer");
      assert.equal(get.headers.get("Content-Type"), OCI_MANIFEST);
      equalBytes(get.body, noMediaType.bytes, "manifest without mediaType");
    },
  );

  manifests("Docker schema 2 manifest and manifest list", async () => {
    const { c } = await fresh();
    const configs = [configBlob("d-amd64"), configBlob("d-arm64")];
    const layer = randomBytes(700, 53);
    await pushBlob(c, "lib/app", layer);
    const children: BuiltManifest[] = [];
    for (const config of configs) {
      await pushBlob(c, "lib/app", config);
      const m = dockerManifest(describe(DOCKER_CONFIG, config), [describe(DOCKER_LAYER, layer)]);
      await pushManifest(c, "lib/app", m);
      children.push(m);
    }
    const list = dockerManifestList([
      { ...children[0].descriptor, platform: { architecture: "amd64", os: "linux" } },
      { ...children[1].descriptor, platform: { architecture: "arm64", os: "linux" } },
    ]);
    const put = await pushManifest(c, "lib/app", list, "1.0");
    assert.equal(put.headers.get("Docker-Content-Digest"), list.digest);
    const get = await c.call("GET", "/v2/lib/app/manifests/1.0", {
      headers: { Accept: DOCKER_LIST },
    });
    assert.equal(get.headers.get("Content-Type"), DOCKER_LIST);
    equalBytes(get.body, list.bytes, "manifest list");
  });

  manifests("OCI index whose children exist; nested index", async () => {
    const { c } = await fresh();
    const one = await pushImage(c, "a", "idx1");
    const two = await pushImage(c, "a", "idx2");
    const index = ociIndex({
      manifests: [one.manifest.descriptor, two.manifest.descriptor],
      artifactType: "application/vnd.food.stand",
      annotations: { "org.opencontainers.conformance.test": "test index" },
    });
    await pushManifest(c, "a", index, "multi");
    const nested = ociIndex({ manifests: [index.descriptor] });
    await pushManifest(c, "a", nested);
    const get = await c.call("GET", `/v2/a/manifests/${nested.digest}`);
    assert.equal(get.headers.get("Content-Type"), OCI_INDEX);
  });

  manifests("index children must exist: 400 MANIFEST_BLOB_UNKNOWN naming the digest", async () => {
    const { c } = await fresh();
    const present = await pushImage(c, "a", "present");
    const absent = await pushImageBlobs(c, "a", "absent");
    const index = ociIndex({
      manifests: [present.manifest.descriptor, absent.manifest.descriptor],
    });
    const errors = expectError(
      await putManifest(c, "a", index, "idx"),
      400,
      "MANIFEST_BLOB_UNKNOWN",
    );
    assert.ok(
      detailText(errors).includes(absent.manifest.digest),
      `detail names ${absent.manifest.digest}`,
    );
    const list = dockerManifestList([absent.manifest.descriptor]);
    const listErrors = expectError(
      await putManifest(c, "a", list, "list"),
      400,
      "MANIFEST_BLOB_UNKNOWN",
    );
    assert.ok(detailText(listErrors).includes(absent.manifest.digest));
    expectError(await c.call("GET", "/v2/a/manifests/idx"), 404, "MANIFEST_UNKNOWN");
  });

  manifests(
    "referenced blobs must exist: MANIFEST_BLOB_UNKNOWN with the digest in detail",
    async () => {
      const { c } = await fresh();
      const config = configBlob("mbu");
      const layer = randomBytes(200, 54);
      await pushBlob(c, "a", config);
      const missingLayer = ociManifest({
        config: describe(OCI_CONFIG, config),
        layers: [describe(OCI_LAYER, layer)],
      });
      const e1 = expectError(
        await putManifest(c, "a", missingLayer, "v1"),
        400,
        "MANIFEST_BLOB_UNKNOWN",
      );
      assert.ok(detailText(e1).includes(digestOf(layer)), "detail names the missing layer");
      const otherConfig = configBlob("mbu-missing");
      const missingConfig = ociManifest({ config: describe(OCI_CONFIG, otherConfig), layers: [] });
      const e2 = expectError(
        await putManifest(c, "a", missingConfig, "v1"),
        400,
        "MANIFEST_BLOB_UNKNOWN",
      );
      assert.ok(detailText(e2).includes(digestOf(otherConfig)), "detail names the missing config");
      const docker = dockerManifest(describe(DOCKER_CONFIG, config), [
        describe(DOCKER_LAYER, layer),
      ]);
      const e3 = expectError(await putManifest(c, "a", docker, "v1"), 400, "MANIFEST_BLOB_UNKNOWN");
      assert.ok(detailText(e3).includes(digestOf(layer)));
      expectError(await c.call("GET", "/v2/a/manifests/v1"), 404, [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
      ]);
    },
  );

  manifests("non-distributable and foreign layers are not checked", async () => {
    const { c } = await fresh();
    const config = configBlob("foreign");
    await pushBlob(c, "a", config);
    const ghost = randomBytes(64, 55);
    const oci = ociManifest({
      config: describe(OCI_CONFIG, config),
      layers: [describe(OCI_LAYER_NONDIST, ghost, { urls: ["https://example.com/layer"] })],
    });
    await pushManifest(c, "a", oci, "nondist");
    const dcfg = configBlob("foreign-docker");
    await pushBlob(c, "a", dcfg);
    const docker = dockerManifest(describe(DOCKER_CONFIG, dcfg), [
      describe(DOCKER_FOREIGN_LAYER, ghost, { urls: ["https://example.com/layer"] }),
    ]);
    await pushManifest(c, "a", docker, "foreign");
  });

  manifests("Docker schema 1 is refused with MANIFEST_INVALID saying so", async () => {
    const { c } = await fresh();
    const schema1 = buildManifest({
      schemaVersion: 1,
      name: "a",
      tag: "old",
      architecture: "amd64",
      fsLayers: [{ blobSum: EMPTY_DIGEST }],
      history: [{ v1Compatibility: "{}" }],
    }, DOCKER_SCHEMA1);
    for (const type of [DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED]) {
      const errors = expectError(
        await putManifest(c, "a", schema1, "old", type),
        400,
        "MANIFEST_INVALID",
      );
      assert.match(detailText(errors), /schema ?1|v1\+/i, "the error says schema 1 is refused");
    }
  });

  manifests("invalid JSON and non-manifests are 400 MANIFEST_INVALID", async () => {
    const { c } = await fresh();
    for (const body of ["blablabla", "{", "[]", "null", '"text"']) {
      const res = await c.call("PUT", "/v2/a/manifests/bad", {
        headers: { "Content-Type": OCI_MANIFEST },
        body,
      });
      expectError(res, 400, "MANIFEST_INVALID");
    }
    const bad = await c.call("PUT", "/v2/a/manifests/bad", {
      headers: { "Content-Type": OCI_INDEX },
      body: "{]",
    });
    expectError(bad, 400, "MANIFEST_INVALID");
  });

  manifests("a mediaType contradicting the Content-Type is 400 MANIFEST_INVALID", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImageBlobs(c, "a", "contra");
    expectError(await putManifest(c, "a", manifest, "v1", OCI_INDEX), 400, "MANIFEST_INVALID");
    expectError(
      await putManifest(c, "a", manifest, "v1", DOCKER_MANIFEST),
      400,
      "MANIFEST_INVALID",
    );
    const index = ociIndex({ manifests: [] });
    expectError(await putManifest(c, "a", index, "v1", OCI_MANIFEST), 400, "MANIFEST_INVALID");
  });

  manifests(
    "a 4 MiB manifest is accepted (and a 3.9 MB one); one byte more is 413 SIZE_INVALID",
    async () => {
      const { c } = await fresh();
      const { config } = await pushImageBlobs(c, "a", "big");
      const sized = (size: number): BuiltManifest => {
        const make = (pad: string) =>
          ociManifest({ config: describe(OCI_CONFIG, config), layers: [], annotations: { pad } });
        const baseSize = make("").size;
        const m = make("x".repeat(size - baseSize));
        assert.equal(m.size, size);
        return m;
      };
      const m39 = sized(3_900_000);
      await pushManifest(c, "a", m39, "big39");
      const get = await c.call("GET", "/v2/a/manifests/big39");
      expectStatus(get, 200);
      equalBytes(get.body, m39.bytes, "3.9 MB manifest");
      await pushManifest(c, "a", sized(4 * 1024 * 1024), "big4");
      const over = sized(4 * 1024 * 1024 + 1);
      expectError(await putManifest(c, "a", over, "big5"), 413, "SIZE_INVALID");
      // a streamed body with no Content-Length is counted too
      const streamed = await c.call("PUT", "/v2/a/manifests/big6", {
        headers: { "Content-Type": OCI_MANIFEST },
        body: streamOf([over.bytes.subarray(0, 1_000_000), over.bytes.subarray(1_000_000)]),
      });
      expectError(streamed, 413, "SIZE_INVALID");
      expectError(await c.call("GET", "/v2/a/manifests/big5"), 404, "MANIFEST_UNKNOWN");
      expectError(await c.call("GET", "/v2/a/manifests/big6"), 404, "MANIFEST_UNKNOWN");
    },
  );

  manifests("multi-tag PUT ?tag=a&tag=b answers OCI-Tag for each and sets them all", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImageBlobs(c, "a", "multi");
    const res = await c.call(
      "PUT",
      `/v2/a/manifests/${manifest.digest}?tag=one&tag=two&tag=three`,
      {
        headers: { "Content-Type": OCI_MANIFEST },
        body: manifest.bytes,
      },
    );
    expectStatus(res, 201);
    const echoed = (res.headers.get("OCI-Tag") ?? "").split(/\s*,\s*/).filter(Boolean).sort();
    assert.deepEqual(echoed, ["one", "three", "two"]);
    assert.deepEqual(await tagsOf(c, "a"), ["one", "three", "two"]);
    for (const tag of ["one", "two", "three"]) {
      const get = await c.call("GET", `/v2/a/manifests/${tag}`);
      assert.equal(get.headers.get("Docker-Content-Digest"), manifest.digest);
    }
    const bad = await c.call("PUT", `/v2/a/manifests/${manifest.digest}?tag=ok&tag=.bad`, {
      headers: { "Content-Type": OCI_MANIFEST },
      body: manifest.bytes,
    });
    expectError(bad, 400, ["TAG_INVALID", "MANIFEST_INVALID"]);
    assert.ok(!(await tagsOf(c, "a")).includes("ok"), "no tag set when one tag is invalid");
  });

  manifests(
    "an artifact with empty config and a subject answers OCI-Subject (subject may be missing)",
    async () => {
      const { c } = await fresh();
      await pushBlob(c, "a", EMPTY_JSON);
      const payload = utf8("signature bytes");
      await pushBlob(c, "a", payload);
      const missingSubject = digestOf(utf8("never pushed"));
      const artifact = ociManifest({
        artifactType: "application/vnd.example.signature",
        config: describe(OCI_EMPTY, EMPTY_JSON),
        layers: [describe("application/vnd.example.signature.v1", payload)],
        subject: { mediaType: OCI_MANIFEST, digest: missingSubject, size: 123 },
      });
      const put = await pushManifest(c, "a", artifact);
      assert.equal(put.headers.get("OCI-Subject"), missingSubject);
    },
  );

  manifests.run();

  // ───────────────────────────── referrers ─────────────────────────────
  const referrers = group("referrers");

  const typeA = "application/vnd.nhl.peanut.butter.bagel";
  const typeB = "application/vnd.nba.strawberry.jam.croissant";
  const typeIndex = "application/vnd.food.stand";
  const key = "org.opencontainers.conformance.test";

  /** The conformance discovery setup: five referrers of one subject, three pushed before it. */
  async function referrerSetup(c: Client, name: string) {
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
      annotations: { [key]: "test config a" },
    });
    const aLayer = ociManifest({
      artifactType: typeA,
      config: describe(OCI_EMPTY, EMPTY_JSON),
      subject: subjectDesc,
      layers: [describe(typeA, refA)],
      annotations: { [key]: "test layer a" },
    });
    const index = ociIndex({
      artifactType: typeIndex,
      manifests: [aConfig.descriptor, aLayer.descriptor],
      subject: subjectDesc,
      annotations: { [key]: "test index" },
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
      annotations: { [key]: "test config b" },
    });
    const bLayer = ociManifest({
      artifactType: typeB,
      config: describe(OCI_EMPTY, EMPTY_JSON),
      subject: subjectDesc,
      layers: [describe(typeB, refB)],
      annotations: { [key]: "test layer b" },
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

  referrers(
    "listing: every referrer with mediaType, digest, size, artifactType and annotations",
    async () => {
      const { c } = await fresh();
      const r = await referrerSetup(c, "a");
      const { res, index } = await referrersOf(c, "a", r.subject.manifest.digest);
      assert.equal(
        res.headers.get("OCI-Filters-Applied"),
        null,
        "no filter, no OCI-Filters-Applied",
      );
      const expected = [
        [r.aConfig, OCI_MANIFEST, typeA, "test config a"],
        [r.aLayer, OCI_MANIFEST, typeA, "test layer a"],
        [r.index, OCI_INDEX, typeIndex, "test index"],
        [r.bConfig, OCI_MANIFEST, typeB, "test config b"],
        [r.bLayer, OCI_MANIFEST, typeB, "test layer b"],
      ] as const;
      assert.equal(index.manifests.length, 5);
      for (const [m, mediaType, artifactType, annotation] of expected) {
        const entry = index.manifests.find((d) => d.digest === m.digest);
        assert.ok(entry, `referrer ${m.digest} listed`);
        assert.equal(entry.mediaType, mediaType);
        assert.equal(entry.size, m.size);
        assert.equal(entry.artifactType, artifactType);
        assert.deepEqual(entry.annotations, { [key]: annotation });
      }
    },
  );

  referrers("?artifactType= filters and answers OCI-Filters-Applied: artifactType", async () => {
    const { c } = await fresh();
    const r = await referrerSetup(c, "a");
    const { res, index } = await referrersOf(
      c,
      "a",
      r.subject.manifest.digest,
      `?artifactType=${encodeURIComponent(typeA)}`,
    );
    assert.equal(res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.deepEqual(
      index.manifests.map((d) => d.digest).sort(),
      [r.aConfig.digest, r.aLayer.digest].sort(),
    );
    for (const d of index.manifests) assert.equal(d.annotations?.[key]?.endsWith(" a"), true);
    const none = await referrersOf(
      c,
      "a",
      r.subject.manifest.digest,
      "?artifactType=application/x-none",
    );
    assert.equal(none.res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.equal(none.index.manifests.length, 0);
  });

  referrers("an artifactType with + and / is matched after URL decoding", async () => {
    const { c } = await fresh();
    await pushBlob(c, "a", EMPTY_JSON);
    const subject = await pushImage(c, "a", "plus-subject", "v1");
    const type = "application/vnd.example.sbom.v1+json";
    const sbom = ociManifest({
      artifactType: type,
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers: [describe(OCI_EMPTY, EMPTY_JSON)],
      subject: subject.manifest.descriptor,
    });
    const other = ociManifest({
      artifactType: "application/vnd.example.sbom.v1",
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers: [describe(OCI_EMPTY, EMPTY_JSON)],
      subject: subject.manifest.descriptor,
    });
    await pushManifest(c, "a", sbom);
    await pushManifest(c, "a", other);
    const q = `?artifactType=${encodeURIComponent(type)}`;
    const { res, index } = await referrersOf(c, "a", subject.manifest.digest, q);
    assert.equal(res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.deepEqual(index.manifests.map((d) => d.digest), [sbom.digest]);
  });

  referrers(
    "a subject that was never pushed lists its dangling referrer; an unknown digest an empty index",
    async () => {
      const { c } = await fresh();
      const r = await referrerSetup(c, "a");
      const ghost = await referrersOf(c, "a", r.ghost.manifest.digest);
      assert.deepEqual(ghost.index.manifests.map((d) => d.digest), [r.cLayer.digest]);
      const empty = await referrersOf(c, "a", digestOf(utf8("hello world")));
      assert.equal(empty.index.manifests.length, 0);
      const unknownRepo = await referrersOf(c, "never/seen", digestOf(utf8("hello world")));
      assert.equal(unknownRepo.index.manifests.length, 0);
    },
  );

  referrers(
    "deleting a referrer removes it from the index; referrers are per repository",
    async () => {
      const { c } = await fresh();
      const r = await referrerSetup(c, "a");
      expectStatus(await c.call("DELETE", `/v2/a/manifests/${r.bLayer.digest}`), 202);
      const { index } = await referrersOf(c, "a", r.subject.manifest.digest);
      assert.equal(index.manifests.length, 4);
      assert.ok(!index.manifests.some((d) => d.digest === r.bLayer.digest));
      const other = await referrersOf(c, "b", r.subject.manifest.digest);
      assert.equal(other.index.manifests.length, 0, "repository b has no referrers");
    },
  );

  referrers("a referrer pushed by tag is indexed too; a sha512 subject digest works", async () => {
    const { c } = await fresh();
    await pushBlob(c, "a", EMPTY_JSON);
    const subject = await pushImage(c, "a", "tagged-subject", "v1");
    const sig = ociManifest({
      artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers: [describe(OCI_EMPTY, EMPTY_JSON)],
      subject: subject.manifest.descriptor,
    });
    await pushManifest(c, "a", sig, "sha256-signature");
    const { index } = await referrersOf(c, "a", subject.manifest.digest);
    assert.deepEqual(index.manifests.map((d) => d.digest), [sig.digest]);
    assert.equal(
      index.manifests[0].artifactType,
      "application/vnd.dev.cosign.artifact.sig.v1+json",
    );
    const d512 = digestOf(utf8("x"), "sha512");
    assert.equal((await referrersOf(c, "a", d512)).index.manifests.length, 0);
  });

  referrers("a malformed digest on the referrers API is 400 DIGEST_INVALID", async () => {
    const { c } = await fresh();
    expectError(await c.call("GET", "/v2/a/referrers/sha256:nothex"), 400, "DIGEST_INVALID");
    expectError(await c.call("GET", "/v2/a/referrers/latest"), 400, "DIGEST_INVALID");
  });

  referrers.run();

  // ───────────────────────────── tags and catalog ─────────────────────────────
  const listing = group("tags list and catalog");

  async function tagged(c: Client, name: string, tags: string[]): Promise<void> {
    const { manifest } = await pushImageBlobs(c, name, `tags-${name}`);
    for (const tag of tags) await pushManifest(c, name, manifest, tag);
  }

  listing("tags are sorted in byte order with the repository name", async () => {
    const { c } = await fresh();
    await tagged(c, "lib/x", ["latest", "a", "_x", "B", "9", "10"]);
    const res = await c.call("GET", "/v2/lib/x/tags/list");
    expectStatus(res, 200);
    assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
    assert.deepEqual(res.json(), { name: "lib/x", tags: ["10", "9", "B", "_x", "a", "latest"] });
    assert.equal(res.headers.get("Link"), null, "no Link without n");
  });

  listing(
    'paging with n and last, Link exactly </v2/<name>/tags/list?n=<n>&last=<tag>>; rel="next"',
    async () => {
      const { c } = await fresh();
      await tagged(c, "lib/x", ["latest", "a", "_x", "B", "9", "10"]);
      const pages: string[][] = [];
      let path: string | undefined = "/v2/lib/x/tags/list?n=2";
      const links: (string | null)[] = [];
      while (path) {
        const res = await c.call("GET", path);
        expectStatus(res, 200);
        pages.push((res.json() as { tags: string[] }).tags);
        links.push(res.headers.get("Link"));
        path = linkTarget(res);
        assert.ok(pages.length < 10, "paging terminates");
      }
      assert.deepEqual(pages, [["10", "9"], ["B", "_x"], ["a", "latest"]]);
      assert.deepEqual(links, [
        '</v2/lib/x/tags/list?n=2&last=9>; rel="next"',
        '</v2/lib/x/tags/list?n=2&last=_x>; rel="next"',
        null,
      ]);
    },
  );

  listing(
    "tag paging edge cases: n=0, n beyond the end, last past the end, last between tags",
    async () => {
      const { c } = await fresh();
      await tagged(c, "a", ["test0", "test1", "test2", "test3"]);
      const zero = await c.call("GET", "/v2/a/tags/list?n=0");
      expectStatus(zero, 200);
      assert.deepEqual((zero.json() as { tags: string[] }).tags ?? [], []);
      assert.equal(zero.headers.get("Link"), null, "n=0: no Link");
      const many = await c.call("GET", "/v2/a/tags/list?n=100");
      assert.deepEqual((many.json() as { tags: string[] }).tags, [
        "test0",
        "test1",
        "test2",
        "test3",
      ]);
      assert.equal(many.headers.get("Link"), null);
      const exact = await c.call("GET", "/v2/a/tags/list?n=4");
      assert.equal((exact.json() as { tags: string[] }).tags.length, 4);
      assert.equal(exact.headers.get("Link"), null, "no Link when nothing remains");
      const past = await c.call("GET", "/v2/a/tags/list?last=zzz");
      expectStatus(past, 200);
      assert.deepEqual((past.json() as { tags: string[] }).tags ?? [], []);
      const pastN = await c.call("GET", "/v2/a/tags/list?n=2&last=test3");
      assert.deepEqual((pastN.json() as { tags: string[] }).tags ?? [], []);
      assert.equal(pastN.headers.get("Link"), null);
      const between = await c.call("GET", "/v2/a/tags/list?n=2&last=test0a");
      assert.deepEqual((between.json() as { tags: string[] }).tags, ["test1", "test2"]);
      const half = await c.call("GET", "/v2/a/tags/list?n=2&last=test1");
      assert.deepEqual((half.json() as { tags: string[] }).tags, ["test2", "test3"]);
    },
  );

  listing("malformed n is 400, never 500", async () => {
    const { c } = await fresh();
    await tagged(c, "a", ["v1"]);
    for (const n of ["abc", "-1", "1.5"]) {
      const res = await c.call("GET", `/v2/a/tags/list?n=${n}`);
      expectError(res, 400, ["PAGINATION_NUMBER_INVALID", "UNSUPPORTED"]);
    }
    expectError(await c.call("GET", "/v2/_catalog?n=abc"), 400, [
      "PAGINATION_NUMBER_INVALID",
      "UNSUPPORTED",
    ]);
  });

  listing(
    "unknown repository: tags list 404 NAME_UNKNOWN; blobs alone do not make a repository known",
    async () => {
      const { c } = await fresh();
      expectError(await c.call("GET", "/v2/nobody/tags/list"), 404, "NAME_UNKNOWN");
      await pushBlob(c, "blobsonly", utf8("x"));
      expectError(await c.call("GET", "/v2/blobsonly/tags/list"), 404, "NAME_UNKNOWN");
      const untagged = await pushImageBlobs(c, "untagged", "u");
      await pushManifest(c, "untagged", untagged.manifest);
      const res = await c.call("GET", "/v2/untagged/tags/list");
      expectStatus(res, 200);
      assert.deepEqual((res.json() as { tags: string[] | null }).tags ?? [], []);
    },
  );

  listing("catalog lists repositories in byte order with n, last and Link", async () => {
    const { c } = await fresh();
    for (const name of ["c", "a/x", "b", "a", "a_b", "a-b", "a.b"]) await tagged(c, name, ["v1"]);
    const all = await c.call("GET", "/v2/_catalog");
    expectStatus(all, 200);
    assert.deepEqual(all.json(), { repositories: ["a", "a-b", "a.b", "a/x", "a_b", "b", "c"] });
    const pages: string[][] = [];
    const lasts: (string | null)[] = [];
    let path: string | undefined = "/v2/_catalog?n=2";
    while (path) {
      const res = await c.call("GET", path);
      expectStatus(res, 200);
      pages.push((res.json() as { repositories: string[] }).repositories);
      const next = linkTarget(res);
      if (next === undefined) break;
      const nextUrl = new URL(next, "http://x");
      assert.equal(nextUrl.pathname, "/v2/_catalog");
      assert.equal(nextUrl.searchParams.get("n"), "2");
      lasts.push(nextUrl.searchParams.get("last"));
      path = nextUrl.pathname + nextUrl.search;
      assert.ok(pages.length < 10, "paging terminates");
    }
    assert.deepEqual(pages, [["a", "a-b"], ["a.b", "a/x"], ["a_b", "b"], ["c"]]);
    assert.deepEqual(lasts, ["a-b", "a/x", "b"]);
    const zero = await c.call("GET", "/v2/_catalog?n=0");
    assert.deepEqual((zero.json() as { repositories: string[] }).repositories ?? [], []);
    assert.equal(zero.headers.get("Link"), null);
    const past = await c.call("GET", "/v2/_catalog?last=zzz");
    assert.deepEqual((past.json() as { repositories: string[] }).repositories ?? [], []);
  });

  listing.run();

  // ───────────────────────────── delete ─────────────────────────────
  const deletes = group("delete");

  deletes("DELETE by tag untags only: other tags and the digest remain", async () => {
    const { c } = await fresh();
    const { manifest } = await pushImage(c, "a", "del1", "one");
    await pushManifest(c, "a", manifest, "two");
    expectStatus(await c.call("DELETE", "/v2/a/manifests/one"), 202);
    expectError(await c.call("GET", "/v2/a/manifests/one"), 404, "MANIFEST_UNKNOWN");
    expectStatus(await c.call("GET", "/v2/a/manifests/two"), 200);
    expectStatus(await c.call("GET", `/v2/a/manifests/${manifest.digest}`), 200);
    assert.deepEqual(await tagsOf(c, "a"), ["two"]);
    expectError(await c.call("DELETE", "/v2/a/manifests/one"), 404, "MANIFEST_UNKNOWN");
  });

  deletes("DELETE by digest removes the manifest and every tag on it", async () => {
    const { c } = await fresh();
    const keep = await pushImage(c, "a", "keep", "keep");
    const { manifest } = await pushImage(c, "a", "del2", "one");
    await pushManifest(c, "a", manifest, "two");
    expectStatus(await c.call("DELETE", `/v2/a/manifests/${manifest.digest}`), 202);
    expectError(await c.call("GET", `/v2/a/manifests/${manifest.digest}`), 404, "MANIFEST_UNKNOWN");
    expectError(await c.call("GET", "/v2/a/manifests/one"), 404, "MANIFEST_UNKNOWN");
    expectError(await c.call("GET", "/v2/a/manifests/two"), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual(await tagsOf(c, "a"), ["keep"]);
    expectStatus(await c.call("GET", `/v2/a/manifests/${keep.manifest.digest}`), 200);
    expectError(
      await c.call("DELETE", `/v2/a/manifests/${manifest.digest}`),
      404,
      "MANIFEST_UNKNOWN",
    );
  });

  deletes(
    "blob DELETE answers 202, then the blob is 404, a second DELETE 404 BLOB_UNKNOWN",
    async () => {
      const { c } = await fresh();
      const digest = await pushBlob(c, "a", utf8("delete me"));
      expectStatus(await c.call("DELETE", `/v2/a/blobs/${digest}`), 202);
      expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      expectStatus(await c.call("HEAD", `/v2/a/blobs/${digest}`), 404);
      expectError(await c.call("DELETE", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    },
  );

  deletes.run();

  // ───────────────────────────── options ─────────────────────────────
  const options = group("options");

  options(
    "deletion: false → every DELETE of manifests and blobs is 405 UNSUPPORTED; content stays",
    async () => {
      const { c } = await fresh({ deletion: false });
      const { manifest, config } = await pushImage(c, "a", "nodel", "v1");
      expectError(await c.call("DELETE", "/v2/a/manifests/v1"), 405, "UNSUPPORTED");
      expectError(await c.call("DELETE", `/v2/a/manifests/${manifest.digest}`), 405, "UNSUPPORTED");
      expectError(await c.call("DELETE", `/v2/a/blobs/${digestOf(config)}`), 405, "UNSUPPORTED");
      expectStatus(await c.call("GET", "/v2/a/manifests/v1"), 200);
      expectStatus(await c.call("GET", `/v2/a/blobs/${digestOf(config)}`), 200);
    },
  );

  options(
    "referrers: false → the referrers API is 404 UNSUPPORTED and PUT sends no OCI-Subject",
    async () => {
      const { c } = await fresh({ referrers: false });
      await pushBlob(c, "a", EMPTY_JSON);
      const subject = await pushImage(c, "a", "noref", "v1");
      const artifact = ociManifest({
        artifactType: "application/x-test",
        config: describe(OCI_EMPTY, EMPTY_JSON),
        layers: [describe(OCI_EMPTY, EMPTY_JSON)],
        subject: subject.manifest.descriptor,
      });
      const put = await pushManifest(c, "a", artifact);
      assert.equal(put.headers.get("OCI-Subject"), null);
      expectError(
        await c.call("GET", `/v2/a/referrers/${subject.manifest.digest}`),
        404,
        "UNSUPPORTED",
      );
    },
  );

  options("readOnly: reads work, every write is 405 UNSUPPORTED saying read-only", async () => {
    const storage = await makeStorage();
    const writer = client(createRegistry({ storage }));
    const { manifest, config } = await pushImage(writer, "a", "ro", "v1");
    const session = await startUpload(writer, "a");
    const c = client(createRegistry({ storage, readOnly: true }));
    expectStatus(await c.call("GET", "/v2/a/manifests/v1"), 200);
    expectStatus(await c.call("GET", `/v2/a/blobs/${digestOf(config)}`), 200);
    expectStatus(await c.call("GET", "/v2/a/tags/list"), 200);
    expectStatus(await c.call("GET", "/v2/_catalog"), 200);
    const writes: [string, string, Uint8Array | undefined, Record<string, string>][] = [
      ["POST", "/v2/a/blobs/uploads/", undefined, {}],
      ["POST", `/v2/a/blobs/uploads/?digest=${digestOf(utf8("x"))}`, utf8("x"), {}],
      ["PUT", "/v2/a/manifests/v2", manifest.bytes, { "Content-Type": OCI_MANIFEST }],
      ["DELETE", "/v2/a/manifests/v1", undefined, {}],
      ["DELETE", `/v2/a/blobs/${digestOf(config)}`, undefined, {}],
      ["PATCH", session, utf8("x"), {}],
      ["PUT", withQuery(session, { digest: digestOf(utf8("x")) }), utf8("x"), {}],
      ["DELETE", session, undefined, {}],
    ];
    for (const [method, path, body, headers] of writes) {
      const errors = expectError(await c.call(method, path, { body, headers }), 405, "UNSUPPORTED");
      assert.match(detailText(errors), /read.?only/i, `${method} ${path}: says read-only`);
    }
    expectStatus(await c.call("GET", "/v2/a/manifests/v1"), 200);
  });

  options("sparseIndexes: true accepts an index whose children are missing", async () => {
    const { c } = await fresh({ sparseIndexes: true });
    const absent = await pushImageBlobs(c, "a", "sparse");
    const index = ociIndex({ manifests: [absent.manifest.descriptor] });
    await pushManifest(c, "a", index, "sparse");
    const list = dockerManifestList([absent.manifest.descriptor]);
    await pushManifest(c, "a", list, "sparse-list");
    // blobs of image manifests are still checked
    const config = configBlob("sparse-missing");
    const image = ociManifest({ config: describe(OCI_CONFIG, config), layers: [] });
    expectError(await putManifest(c, "a", image, "img"), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  options(
    "maxManifestSize: a manifest above the configured limit is 413 SIZE_INVALID",
    async () => {
      const { c } = await fresh({ maxManifestSize: 2048 });
      const { config } = await pushImageBlobs(c, "a", "limit");
      const small = ociManifest({ config: describe(OCI_CONFIG, config), layers: [] });
      assert.ok(small.size < 2048);
      await pushManifest(c, "a", small, "small");
      const big = ociManifest({
        config: describe(OCI_CONFIG, config),
        layers: [],
        annotations: { pad: "x".repeat(3000) },
      });
      expectError(await putManifest(c, "a", big, "big"), 413, "SIZE_INVALID");
      expectError(await c.call("GET", "/v2/a/manifests/big"), 404, "MANIFEST_UNKNOWN");
    },
  );

  options("basePath prefixes every route, Location and Link", async () => {
    const storage = await makeStorage();
    const c = client(createRegistry({ storage, basePath: "/registry" }));
    expectStatus(await c.call("GET", "/registry/v2/"), 200);
    const start = await c.call("POST", "/registry/v2/a/blobs/uploads/");
    expectStatus(start, 202);
    const location = locationOf(start);
    assert.ok(location.startsWith("/registry/v2/a/blobs/uploads/"), location);
    const bytes = utf8("prefixed");
    const digest = digestOf(bytes);
    const put = await c.call("PUT", withQuery(location, { digest }), { body: bytes });
    expectStatus(put, 201);
    assert.equal(locationOf(put), `/registry/v2/a/blobs/${digest}`);
    const config = configBlob("prefixed");
    const cfgDigest = digestOf(config);
    const s2 = await c.call("POST", `/registry/v2/a/blobs/uploads/?digest=${cfgDigest}`, {
      body: config,
    });
    expectStatus(s2, 201);
    const m = ociManifest({
      config: describe(OCI_CONFIG, config),
      layers: [describe(OCI_LAYER, bytes)],
    });
    for (const tag of ["t1", "t2", "t3"]) {
      const res = await c.call("PUT", `/registry/v2/a/manifests/${tag}`, {
        headers: { "Content-Type": OCI_MANIFEST },
        body: m.bytes,
      });
      expectStatus(res, 201);
      assert.ok(locationOf(res).startsWith("/registry/v2/a/manifests/"));
    }
    const tags = await c.call("GET", "/registry/v2/a/tags/list?n=1");
    assert.equal(tags.headers.get("Link"), '</registry/v2/a/tags/list?n=1&last=t1>; rel="next"');
  });

  options("uploadTtlMs: an abandoned session expires", async () => {
    const storage = await makeStorage();
    const first = client(createRegistry({ storage, uploadTtlMs: 1 }));
    const location = await startUpload(first, "a");
    await new Promise((resolve) => setTimeout(resolve, 30));
    const second = client(createRegistry({ storage, uploadTtlMs: 1 }));
    await startUpload(second, "a");
    // purging may run in the background: poll for up to 5 s
    let res = await second.call("GET", location);
    for (let i = 0; i < 100 && res.status !== 404; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      res = await second.call("GET", location);
    }
    expectError(res, 404, "BLOB_UPLOAD_UNKNOWN");
  });

  options(
    "logger: an unexpected storage failure is a 500 without internals, logged once",
    async () => {
      const storage = await makeStorage();
      const bind = <T extends object>(target: T, override: Record<string, unknown>): T =>
        new Proxy(target, {
          get(t, key) {
            if (typeof key === "string" && key in override) return override[key];
            const value = Reflect.get(t, key);
            return typeof value === "function" ? value.bind(t) : value;
          },
        });
      const failing = bind(storage, {
        tags: bind(storage.tags, {
          list: () => Promise.reject(new Error("secret-internal-detail")),
        }),
      });
      const logged: unknown[] = [];
      const c = client(
        createRegistry({ storage: failing, logger: { error: (e) => logged.push(e) } }),
      );
      const res = await c.call("GET", "/v2/a/tags/list");
      expectStatus(res, 500);
      assert.ok(!res.text.includes("secret-internal-detail"), "no internals in the body");
      assert.ok(!res.text.includes(".ts:"), "no stack in the body");
      assert.equal(logged.length, 1, "logged once");
    },
  );

  options.run();

  // ───────────────────────────── grammar and routing ─────────────────────────────
  const grammar = group("names, digests, methods and routing");

  const badNames = [
    "Upper",
    "a/B",
    "a..b",
    "a/..b",
    "a//b",
    "-a",
    "a-",
    "a_",
    "a___b",
    "a._b",
    "a/",
    "a%20b",
    "ünïcode",
    `${"a".repeat(200)}/${"b".repeat(56)}`,
  ];

  grammar(
    "invalid names are 400 NAME_INVALID on every endpoint, before storage is touched",
    async () => {
      const { storage: inner } = await fresh();
      const { storage, calls } = recording(inner);
      const c = client(createRegistry({ storage }));
      const digest = digestOf(utf8("x"));
      for (const name of badNames) {
        const requests: [string, string, Record<string, string>, Uint8Array | undefined][] = [
          ["GET", `/v2/${name}/tags/list`, {}, undefined],
          ["GET", `/v2/${name}/manifests/latest`, {}, undefined],
          ["HEAD", `/v2/${name}/manifests/${digest}`, {}, undefined],
          ["PUT", `/v2/${name}/manifests/latest`, { "Content-Type": OCI_MANIFEST }, utf8("{}")],
          ["DELETE", `/v2/${name}/manifests/latest`, {}, undefined],
          ["GET", `/v2/${name}/blobs/${digest}`, {}, undefined],
          ["HEAD", `/v2/${name}/blobs/${digest}`, {}, undefined],
          ["DELETE", `/v2/${name}/blobs/${digest}`, {}, undefined],
          ["POST", `/v2/${name}/blobs/uploads/`, {}, undefined],
          ["GET", `/v2/${name}/blobs/uploads/someid0123456789abc`, {}, undefined],
          ["PATCH", `/v2/${name}/blobs/uploads/someid0123456789abc`, {}, utf8("x")],
          ["GET", `/v2/${name}/referrers/${digest}`, {}, undefined],
        ];
        for (const [method, path, headers, body] of requests) {
          const res = await c.call(method, path, { headers, body });
          expectError(res, 400, "NAME_INVALID");
        }
      }
      assert.deepEqual(calls, [], "no storage call for an invalid name");
    },
  );

  grammar(
    "percent-encoded traversal (%2e%2e, %2F, %00) in names, ids, tags and digests never reaches storage",
    async () => {
      const { storage: inner } = await fresh();
      const { storage, calls } = recording(inner);
      const c = client(createRegistry({ storage }));
      const digest = digestOf(utf8("x"));
      // A whole `%2e%2e` segment is a `..` the URL standard resolves before routing; encoded
      // slashes and dots inside a segment reach the handler, are decoded, then fail the grammar.
      const cases: [string, string, number, string][] = [
        ["GET", `/v2/a%2F..%2Fb/blobs/${digest}`, 400, "NAME_INVALID"],
        ["GET", `/v2/a%2F%2e%2e%2Fb/tags/list`, 400, "NAME_INVALID"],
        ["POST", "/v2/..%2Fetc/blobs/uploads/", 400, "NAME_INVALID"],
        ["GET", `/v2/a%00b/manifests/latest`, 400, "NAME_INVALID"],
        ["GET", `/v2/a%zz/tags/list`, 400, "NAME_INVALID"],
        ["GET", "/v2/a/blobs/uploads/..%2F..%2Fetc", 404, "BLOB_UPLOAD_UNKNOWN"],
        ["PATCH", "/v2/a/blobs/uploads/%2e%2e%2Fx", 404, "BLOB_UPLOAD_UNKNOWN"],
        ["DELETE", "/v2/a/blobs/uploads/a%2Fb", 404, "BLOB_UPLOAD_UNKNOWN"],
        ["GET", "/v2/a/manifests/..%2F..%2Fx", 404, "MANIFEST_UNKNOWN"],
        ["PUT", "/v2/a/manifests/..%2F..%2Fx", 400, "TAG_INVALID"],
        ["GET", "/v2/a/blobs/sha256%3A..%2F..%2Fx", 400, "DIGEST_INVALID"],
        ["GET", "/v2/a/referrers/sha256:%2e%2e", 400, "DIGEST_INVALID"],
      ];
      for (const [method, path, status, code] of cases) {
        const body = method === "PUT" || method === "PATCH" ? utf8("{}") : undefined;
        const headers: Record<string, string> = method === "PUT"
          ? { "Content-Type": OCI_MANIFEST }
          : {};
        expectError(await c.call(method, path, { body, headers }), status, code);
      }
      assert.deepEqual(calls, [], "no storage call for any of them");
      // An encoded slash between valid components is the same repository as a plain one.
      const bytes = utf8("encoded");
      const pushed = await pushBlob(c, "a/b", bytes);
      const res = await c.call("GET", `/v2/a%2Fb/blobs/${pushed}`);
      expectStatus(res, 200);
      equalBytes(res.body, bytes, "a%2Fb is a/b");
    },
  );

  grammar(
    "valid unusual names work: a__b, a--b, a.b, 0, deep paths of 200 characters",
    async () => {
      const { c } = await fresh();
      for (
        const name of [
          "a__b",
          "a--b",
          "a.b-c_d",
          "0",
          "x/y/z/w",
          `${"a".repeat(99)}/${"b".repeat(100)}`,
        ]
      ) {
        await pushImage(c, name, `valid-${name}`, "v1");
        const res = await c.call("GET", `/v2/${name}/tags/list`);
        expectStatus(res, 200);
        assert.equal((res.json() as { name: string }).name, name);
      }
    },
  );

  grammar(
    "repositories named manifests, blobs, tags, a/b/c, x/blobs/uploads, referrers/manifests",
    async () => {
      const { c } = await fresh();
      for (
        const name of [
          "manifests",
          "blobs",
          "tags",
          "uploads",
          "a/b/c",
          "x/blobs/uploads",
          "referrers/manifests",
        ]
      ) {
        const bytes = utf8(`layer of ${name}`);
        const digest = digestOf(bytes);
        const location = await startUpload(c, name);
        assert.ok(location.startsWith(`/v2/${name}/blobs/uploads/`), `${name}: ${location}`);
        const patch = await c.call("PATCH", location, { body: bytes });
        expectStatus(patch, 202);
        const status = await c.call("GET", locationOf(patch));
        expectStatus(status, 204);
        expectStatus(await c.call("PUT", withQuery(locationOf(status), { digest })), 201);
        const head = await c.call("HEAD", `/v2/${name}/blobs/${digest}`);
        expectStatus(head, 200);
        const config = configBlob(name);
        await pushBlob(c, name, config);
        const m = ociManifest({
          config: describe(OCI_CONFIG, config),
          layers: [describe(OCI_LAYER, bytes)],
        });
        await pushManifest(c, name, m, "latest");
        const get = await c.call("GET", `/v2/${name}/manifests/latest`);
        expectStatus(get, 200);
        equalBytes(get.body, m.bytes, `${name} manifest`);
        const tags = await c.call("GET", `/v2/${name}/tags/list`);
        assert.deepEqual(tags.json(), { name, tags: ["latest"] });
        const refs = await referrersOf(c, name, m.digest);
        assert.equal(refs.index.manifests.length, 0);
        expectStatus(await c.call("DELETE", `/v2/${name}/manifests/latest`), 202);
      }
      const catalog = await c.call("GET", "/v2/_catalog");
      const repositories = (catalog.json() as { repositories: string[] }).repositories;
      for (const name of ["manifests", "blobs", "a/b/c", "x/blobs/uploads"]) {
        assert.ok(repositories.includes(name), `catalog lists ${name}`);
      }
    },
  );

  const badDigests = [
    "sha256:totallywrong",
    `sha256:${"a".repeat(63)}`,
    `sha256:${"A".repeat(64)}`,
    `sha256:${"a".repeat(65)}`,
    `sha512:${"a".repeat(64)}`,
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha256:",
    `sha256:${"g".repeat(64)}`,
  ];

  grammar("malformed digests are 400 DIGEST_INVALID everywhere, never 404 or 500", async () => {
    const { c } = await fresh();
    const image = await pushImage(c, "a", "digests", "v1");
    const location = await startUpload(c, "a");
    for (const d of [...badDigests, "nocolon"]) {
      expectError(await c.call("GET", `/v2/a/blobs/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("HEAD", `/v2/a/blobs/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("DELETE", `/v2/a/blobs/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("GET", `/v2/a/referrers/${d}`), 400, "DIGEST_INVALID");
      const q = encodeURIComponent(d);
      expectError(
        await c.call("POST", `/v2/a/blobs/uploads/?digest=${q}`, { body: utf8("x") }),
        400,
        "DIGEST_INVALID",
      );
      expectError(
        await c.call("PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${q}`, {
          body: utf8("x"),
        }),
        400,
        "DIGEST_INVALID",
      );
    }
    for (const d of badDigests) {
      expectError(await c.call("GET", `/v2/a/manifests/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("HEAD", `/v2/a/manifests/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("DELETE", `/v2/a/manifests/${d}`), 400, "DIGEST_INVALID");
      expectError(await putManifest(c, "a", image.manifest, d), 400, "DIGEST_INVALID");
    }
    // the session survived all of that
    const bytes = utf8("still fine");
    expectStatus(
      await c.call("PUT", withQuery(location, { digest: digestOf(bytes) }), { body: bytes }),
      201,
    );
  });

  grammar("a known path with a wrong method is 405 UNSUPPORTED", async () => {
    const { c } = await fresh();
    const image = await pushImage(c, "a", "methods", "v1");
    const digest = digestOf(image.config);
    const cases: [string, string][] = [
      ["PATCH", "/v2/a/manifests/v1"],
      ["POST", "/v2/a/manifests/v1"],
      ["POST", `/v2/a/blobs/${digest}`],
      ["PUT", `/v2/a/blobs/${digest}`],
      ["PATCH", `/v2/a/blobs/${digest}`],
      ["PUT", "/v2/a/tags/list"],
      ["DELETE", "/v2/a/tags/list"],
      ["POST", "/v2/_catalog"],
      ["DELETE", `/v2/a/referrers/${image.manifest.digest}`],
      ["GET", "/v2/a/blobs/uploads/"],
      ["POST", "/v2/a/blobs/uploads/abcdefabcdefabcdef"],
    ];
    for (const [method, path] of cases) expectError(await c.call(method, path), 405, "UNSUPPORTED");
  });

  grammar("a 405 answers Allow with the methods the endpoint serves (RFC 9110)", async () => {
    const allowOf = (res: Answer) =>
      (res.headers.get("Allow") ?? "").split(",").map((m) => m.trim()).filter(Boolean).sort();
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", utf8("allow"));
    const session = await startUpload(c, "a");
    const cases: [string, string, string[]][] = [
      ["POST", "/v2/", ["GET", "HEAD"]],
      ["PATCH", "/v2/a/manifests/v1", ["DELETE", "GET", "HEAD", "PUT"]],
      ["PUT", `/v2/a/blobs/${digest}`, ["DELETE", "GET", "HEAD"]],
      ["DELETE", "/v2/a/tags/list", ["GET", "HEAD"]],
      ["POST", "/v2/_catalog", ["GET", "HEAD"]],
      ["DELETE", `/v2/a/referrers/${digest}`, ["GET", "HEAD"]],
      ["GET", "/v2/a/blobs/uploads/", ["POST"]],
      ["POST", session, ["DELETE", "GET", "HEAD", "PATCH", "PUT"]],
    ];
    for (const [method, path, methods] of cases) {
      const res = await c.call(method, path);
      expectError(res, 405, "UNSUPPORTED");
      assert.deepEqual(allowOf(res), methods, `${method} ${path}: Allow`);
    }
    // Switched-off writes are not offered either.
    const noDelete = await fresh({ deletion: false });
    await pushBlob(noDelete.c, "a", utf8("allow"));
    const off = await noDelete.c.call("DELETE", `/v2/a/blobs/${digest}`);
    expectError(off, 405, "UNSUPPORTED");
    assert.deepEqual(allowOf(off), ["GET", "HEAD"], "deletion: false → Allow: GET, HEAD");
    const readOnly = await fresh({ readOnly: true });
    const ro = await readOnly.c.call("PUT", "/v2/a/manifests/v1", { body: utf8("{}") });
    expectError(ro, 405, "UNSUPPORTED");
    assert.deepEqual(allowOf(ro), ["GET", "HEAD"], "readOnly → Allow: GET, HEAD");
  });

  grammar("unknown paths are 404 with a JSON error", async () => {
    const { c } = await fresh();
    for (const path of ["/v2/a/unknown", "/v2/a/tags", "/v2/a/blobs", "/other"]) {
      const res = await c.call("GET", path);
      expectStatus(res, 404);
      assert.ok(
        Array.isArray((res.json() as { errors: unknown[] }).errors),
        `${path}: JSON errors`,
      );
    }
  });

  grammar("unknown query parameters are ignored (?ns=example.com)", async () => {
    const { c } = await fresh();
    const { manifest, config } = await pushImage(c, "a", "ns", "v1");
    const ns = "ns=example.com";
    expectStatus(await c.call("GET", `/v2/?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/manifests/v1?${ns}`), 200);
    expectStatus(await c.call("HEAD", `/v2/a/manifests/${manifest.digest}?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/blobs/${digestOf(config)}?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/tags/list?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/referrers/${manifest.digest}?${ns}`), 200);
    const start = await c.call("POST", `/v2/a/blobs/uploads/?${ns}`);
    expectStatus(start, 202);
    const bytes = utf8("with ns");
    const put = await c.call(
      "PUT",
      withQuery(locationOf(start), { digest: digestOf(bytes), ns: "example.com" }),
      {
        body: bytes,
      },
    );
    expectStatus(put, 201);
    expectStatus(
      await c.call("PUT", `/v2/a/manifests/v2?${ns}`, {
        headers: { "Content-Type": OCI_MANIFEST },
        body: manifest.bytes,
      }),
      201,
    );
  });

  grammar.run();

  // ───────────────────────────── conformance workflows ─────────────────────────────
  const conformance = group("conformance workflows (distribution-spec v1.1.1)");
  const ok2xx = (res: Answer) => expectStatus(res, 200, 201, 202, 203, 204);

  conformance("pull workflow", async () => {
    const { c } = await fresh();
    const name = "conformance/oci";
    const configs = [configBlob("pull-0"), configBlob("pull-1")];
    const layer = randomBytes(170, 61);
    for (const blob of [...configs, layer]) {
      const start = await c.call("POST", `/v2/${name}/blobs/uploads/`);
      const put = await c.call("PUT", withQuery(locationOf(start), { digest: digestOf(blob) }), {
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(blob.length),
        },
        body: blob,
      });
      ok2xx(put);
    }
    const manifests = configs.map((cfg) =>
      buildManifest(
        {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: {
            ...describe(OCI_CONFIG, cfg),
            data: btoa(String.fromCharCode(...cfg)),
            newUnspecifiedField: "aGVsbG8gd29ybGQ=",
          },
          layers: [describe(OCI_LAYER, layer)],
        },
        OCI_MANIFEST,
        "\t",
      )
    );
    ok2xx(await putManifest(c, name, manifests[0], "tagtest0"));
    ok2xx(await putManifest(c, name, manifests[1], manifests[1].digest));
    const dummy = digestOf(utf8("hello world"));
    expectStatus(await c.call("HEAD", `/v2/${name}/blobs/${dummy}`), 404);
    const head = await c.call("HEAD", `/v2/${name}/blobs/${digestOf(configs[0])}`);
    expectStatus(head, 200);
    const hd = head.headers.get("Docker-Content-Digest");
    if (hd) assert.equal(hd, digestOf(configs[0]));
    expectStatus(await c.call("GET", `/v2/${name}/blobs/${dummy}`), 404);
    expectStatus(await c.call("GET", `/v2/${name}/blobs/${digestOf(configs[0])}`), 200);
    expectStatus(await c.call("HEAD", `/v2/${name}/manifests/.INVALID_MANIFEST_NAME`), 404);
    const accept = { Accept: OCI_MANIFEST };
    for (const m of manifests) {
      for (const method of ["HEAD", "GET"]) {
        const res = await c.call(method, `/v2/${name}/manifests/${m.digest}`, { headers: accept });
        expectStatus(res, 200);
        const d = res.headers.get("Docker-Content-Digest");
        if (d) assert.equal(d, m.digest);
      }
    }
    for (const method of ["HEAD", "GET"]) {
      const res = await c.call(method, `/v2/${name}/manifests/tagtest0`, { headers: accept });
      expectStatus(res, 200);
      const d = res.headers.get("Docker-Content-Digest");
      if (d) assert.equal(d, manifests[0].digest);
    }
    expectStatus(await c.call("GET", `/v2/${name}/manifests/.INVALID_MANIFEST_NAME`), 404);
    for (const method of ["GET", "PUT"]) {
      const res = await c.call(method, `/v2/${name}/manifests/sha256:totallywrong`, {
        headers: { "Content-Type": OCI_MANIFEST },
        body: method === "PUT" ? utf8("blablabla") : undefined,
      });
      expectStatus(res, 400, 404);
      if (res.status === 400) {
        const code = (res.json() as { errors: { code: string }[] }).errors[0].code;
        assert.ok(
          [
            "BLOB_UNKNOWN",
            "BLOB_UPLOAD_INVALID",
            "BLOB_UPLOAD_UNKNOWN",
            "DIGEST_INVALID",
            "MANIFEST_BLOB_UNKNOWN",
            "MANIFEST_INVALID",
            "MANIFEST_UNKNOWN",
            "MANIFEST_UNVERIFIED",
            "NAME_INVALID",
            "NAME_UNKNOWN",
            "SIZE_INVALID",
            "TAG_INVALID",
            "UNAUTHORIZED",
            "DENIED",
            "UNSUPPORTED",
          ].includes(code),
          `OCI error code ${code}`,
        );
      }
    }
    // teardown: manifests before blobs
    for (const m of manifests) {
      expectStatus(await c.call("DELETE", `/v2/${name}/manifests/${m.digest}`), 202, 405);
    }
    for (const blob of [...configs, layer]) {
      expectStatus(await c.call("DELETE", `/v2/${name}/blobs/${digestOf(blob)}`), 202, 404, 405);
    }
  });

  conformance("push workflow", async () => {
    const { c } = await fresh();
    const name = "conformance/oci";
    const cross = "conformance-other";
    // setup
    const emptyStart = await c.call("POST", `/v2/${name}/blobs/uploads/`);
    ok2xx(
      await c.call("PUT", withQuery(locationOf(emptyStart), { digest: EMPTY_JSON_DIGEST }), {
        headers: { "Content-Type": "application/octet-stream", "Content-Length": "2" },
        body: EMPTY_JSON,
      }),
    );
    const refBlob = utf8("NHL Peanut Butter on my NHL bagel");
    await pushBlob(c, name, refBlob);
    // streamed
    const blobA = randomBytes(42, 62);
    const postA = await c.call("POST", `/v2/${name}/blobs/uploads/`);
    assert.ok(postA.headers.get("Location"));
    const patchA = await c.call("PATCH", locationOf(postA), {
      headers: { "Content-Type": "application/octet-stream" },
      body: blobA,
    });
    expectStatus(patchA, 202);
    const putA = await c.call("PUT", withQuery(locationOf(patchA), { digest: digestOf(blobA) }), {
      headers: { "Content-Type": "application/octet-stream" },
    });
    expectStatus(putA, 201);
    assert.ok(putA.headers.get("Location"));
    // monolithic
    const configs = [configBlob("push-0"), configBlob("push-1")];
    const dummy = digestOf(utf8("hello world"));
    expectStatus(await c.call("GET", `/v2/${name}/blobs/${dummy}`), 404);
    const single = await c.call(
      "POST",
      `/v2/${name}/blobs/uploads/?digest=${digestOf(configs[1])}`,
      {
        headers: { "Content-Type": "application/octet-stream" },
        body: configs[1],
      },
    );
    assert.ok(single.headers.get("Location"));
    expectStatus(single, 201, 202);
    const after = await c.call("GET", `/v2/${name}/blobs/${digestOf(configs[1])}`);
    expectStatus(after, single.status === 202 ? 404 : 200);
    const post = await c.call("POST", `/v2/${name}/blobs/uploads/`);
    expectStatus(post, 202);
    const put = await c.call("PUT", withQuery(locationOf(post), { digest: digestOf(configs[1]) }), {
      headers: { "Content-Type": "application/octet-stream" },
      body: configs[1],
    });
    expectStatus(put, 201);
    assert.ok(put.headers.get("Location"));
    expectStatus(await c.call("GET", `/v2/${name}/blobs/${digestOf(configs[1])}`), 200);
    const layer = randomBytes(170, 63);
    await pushBlob(c, name, layer);
    expectStatus(await c.call("GET", `/v2/${name}/blobs/${digestOf(layer)}`), 200);
    // chunked
    const blobB = randomBytes(42, 64);
    const chunk1 = blobB.subarray(0, 22);
    const chunk2 = blobB.subarray(22);
    const c1 = await c.call("POST", `/v2/${name}/blobs/uploads/`, {
      headers: { "Content-Length": "0" },
    });
    assert.ok(c1.headers.get("Location"));
    expectStatus(
      await c.call("PATCH", locationOf(c1), {
        headers: { "Content-Type": "application/octet-stream", "Content-Range": "22-41" },
        body: chunk2,
      }),
      416,
    );
    const prev = await c.call("POST", `/v2/${name}/blobs/uploads/`, {
      headers: { "Content-Length": "0" },
    });
    const p1 = await c.call("PATCH", locationOf(prev), {
      headers: { "Content-Type": "application/octet-stream", "Content-Range": "0-21" },
      body: chunk1,
    });
    expectStatus(p1, 202);
    assert.equal(p1.headers.get("Range"), "0-21");
    expectStatus(
      await c.call("PATCH", locationOf(prev), {
        headers: { "Content-Type": "application/octet-stream", "Content-Range": "0-21" },
        body: chunk1,
      }),
      416,
    );
    const stale = await c.call("GET", locationOf(prev));
    expectStatus(stale, 204);
    assert.ok(stale.headers.get("Location"));
    assert.equal(stale.headers.get("Range"), "0-21");
    const p2 = await c.call("PATCH", locationOf(stale), {
      headers: { "Content-Range": "22-41", "Content-Type": "application/octet-stream" },
      body: chunk2,
    });
    expectStatus(p2, 202);
    assert.equal(p2.headers.get("Range"), "0-41");
    assert.ok(p2.headers.get("Location"));
    const done = await c.call("PUT", withQuery(locationOf(p2), { digest: digestOf(blobB) }), {
      headers: { "Content-Length": "0", "Content-Type": "application/octet-stream" },
    });
    expectStatus(done, 201);
    assert.ok(done.headers.get("Location"));
    // cross-repository mount
    const noFrom = await c.call("POST", `/v2/${cross}/blobs/uploads/?mount=${dummy}`);
    expectStatus(noFrom, 202);
    assert.ok(noFrom.headers.get("Location"));
    const mount = await c.call(
      "POST",
      `/v2/${cross}/blobs/uploads/?mount=${digestOf(blobA)}&from=${name}`,
    );
    expectStatus(mount, 201, 202);
    if (mount.status === 201) {
      assert.equal(locationOf(mount), `/v2/${cross}/blobs/${digestOf(blobA)}`);
      expectStatus(await c.call("GET", locationOf(mount)), 200);
    } else {
      assert.ok(locationOf(mount).startsWith(`/v2/${cross}/blobs/uploads/`));
    }
    // manifest upload
    expectStatus(await c.call("GET", `/v2/${name}/manifests/.INVALID_MANIFEST_NAME`), 404);
    await pushBlob(c, name, configs[0]);
    const layers = [describe(OCI_LAYER, layer)];
    const m0 = ociManifest({ config: describe(OCI_CONFIG, configs[0]), layers });
    const m1 = ociManifest({ config: describe(OCI_CONFIG, configs[1]), layers });
    for (let i = 0; i < 4; i++) {
      const res = await putManifest(c, name, m1, `test${i}`);
      assert.ok(res.headers.get("Location"));
      expectStatus(res, 201);
    }
    const emptyLayer = ociManifest({
      mediaType: null,
      config: describe(OCI_CONFIG, configs[1]),
      layers: [],
    });
    const el = await putManifest(c, name, emptyLayer, "emptylayer");
    expectStatus(el, 201);
    assert.ok(el.headers.get("Location"));
    expectStatus(
      await c.call("GET", `/v2/${name}/manifests/${m1.digest}`, {
        headers: { Accept: OCI_MANIFEST },
      }),
      200,
    );
    const configType = ociManifest({ config: describe(typeA, refBlob), layers });
    ok2xx(await putManifest(c, name, configType));
    const artifactType = ociManifest({
      artifactType: typeB,
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers,
    });
    ok2xx(await putManifest(c, name, artifactType));
    ok2xx(await putManifest(c, name, m0, "tagtest0"));
    const index = ociIndex({
      artifactType: typeIndex,
      manifests: [m0.descriptor],
      annotations: { [key]: "test index" },
    });
    const idxPut = await putManifest(c, name, index);
    ok2xx(idxPut);
    const nested = ociIndex({
      artifactType: typeIndex,
      manifests: [index.descriptor],
      annotations: { [key]: "test index" },
    });
    ok2xx(await putManifest(c, name, nested));
    const missing = ociManifest({ config: describe(OCI_CONFIG, configBlob("push-3")), layers });
    await pushBlob(c, name, configBlob("push-3"));
    const dangling = ociManifest({
      config: describe(OCI_CONFIG, configs[0]),
      subject: missing.descriptor,
      layers,
    });
    const dang = await putManifest(c, name, dangling);
    ok2xx(dang);
    assert.equal(dang.headers.get("OCI-Subject"), missing.digest);
    // teardown
    for (const m of [m1, configType, artifactType, emptyLayer]) {
      expectStatus(
        await c.call("DELETE", `/v2/${name}/manifests/${m.digest}`),
        200,
        201,
        202,
        204,
        405,
      );
    }
    for (const blob of [configs[1], layer, EMPTY_JSON]) {
      expectStatus(await c.call("DELETE", `/v2/${name}/blobs/${digestOf(blob)}`), 202, 404, 405);
    }
  });

  conformance("discovery workflow", async () => {
    const { c } = await fresh();
    const name = "conformance/oci";
    const shared = await pushImageBlobs(c, name, "disc-2");
    for (let i = 0; i < 4; i++) ok2xx(await putManifest(c, name, shared.manifest, `test${i}`));
    const r = await referrerSetup(c, name);
    const all = await c.call("GET", `/v2/${name}/tags/list`);
    expectStatus(all, 200);
    const tagList = (all.json() as { tags: string[] }).tags;
    const numTags = tagList.length;
    assert.equal(numTags, 5);
    const half = Math.floor(numTags / 2);
    const limited = await c.call("GET", `/v2/${name}/tags/list?n=${half}`);
    expectStatus(limited, 200);
    const first = (limited.json() as { tags: string[] }).tags;
    assert.equal(first.length, half);
    const rest = await c.call("GET", `/v2/${name}/tags/list?n=${half}&last=${first[half - 1]}`);
    expectStatus(rest, 200);
    const second = (rest.json() as { tags: string[] }).tags;
    assert.ok(second.length <= half);
    assert.ok(!second.includes(first[half - 1]), "last is exclusive");
    const empty = await referrersOf(c, name, digestOf(utf8("hello world")));
    assert.equal(empty.index.manifests.length, 0);
    const listed = await referrersOf(c, name, r.subject.manifest.digest);
    assert.equal(listed.index.manifests.length, 5);
    assert.notEqual(listed.index.manifests[0].digest, listed.index.manifests[1].digest);
    for (const d of listed.index.manifests) {
      assert.equal(Object.keys(d.annotations ?? {}).length, 1);
    }
    const filtered = await referrersOf(
      c,
      name,
      r.subject.manifest.digest,
      `?artifactType=${typeA}`,
    );
    assert.equal(filtered.res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.equal(filtered.index.manifests.length, 2);
    const dangling = await referrersOf(c, name, r.ghost.manifest.digest);
    assert.deepEqual(dangling.index.manifests.map((d) => d.digest), [r.cLayer.digest]);
    // teardown (the tag goes through the digest route's reference too)
    for (
      const ref of [
        r.index.digest,
        shared.manifest.digest,
        r.subject.manifest.digest,
        r.aConfig.digest,
        r.aLayer.digest,
        "tagtest0",
        r.bConfig.digest,
        r.bLayer.digest,
        r.cLayer.digest,
      ]
    ) {
      expectStatus(
        await c.call("DELETE", `/v2/${name}/manifests/${ref}`),
        200,
        201,
        202,
        204,
        404,
        405,
      );
    }
  });

  conformance("management workflow", async () => {
    const { c } = await fresh();
    const name = "conformance/oci";
    await pushImage(c, name, "other", "other");
    const image = await pushImage(c, name, "mgmt", "tagtest0");
    const before = (await tagsOf(c, name)).length;
    const delTag = await c.call("DELETE", `/v2/${name}/manifests/tagtest0`);
    expectStatus(delTag, 202);
    const delDigest = await c.call("DELETE", `/v2/${name}/manifests/${image.manifest.digest}`);
    expectStatus(delDigest, 202, 404);
    expectStatus(await c.call("GET", `/v2/${name}/manifests/${image.manifest.digest}`), 404);
    assert.ok((await tagsOf(c, name)).length < before);
    expectStatus(await c.call("DELETE", `/v2/${name}/blobs/${digestOf(image.config)}`), 202);
    expectStatus(await c.call("DELETE", `/v2/${name}/blobs/${digestOf(image.layer)}`), 202);
    expectStatus(await c.call("GET", `/v2/${name}/blobs/${digestOf(image.config)}`), 404);
  });

  conformance.run();
}
