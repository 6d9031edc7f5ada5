/**
 * The testing toolkit (lib/testing): seeding then pulling with plain fetch, inspection, request
 * recording, every fault kind, a retrying client that recovers from injected faults (in-process
 * and over a real socket), and reset.
 */
import { suite } from "uvu";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage } from "../lib/storage/memory.ts";
import {
  createFaults,
  createInspector,
  createRecorder,
  createSeeder,
  createTestRegistry,
  MEDIA_TYPES,
  pathPattern,
  RegistryResponseError,
  type RunningTestRegistry,
  sha256,
  startTestRegistry,
  type TestRegistry,
} from "../lib/testing/mod.ts";
import { createRegistry } from "../lib/registry.ts";

const ACCEPT = `${MEDIA_TYPES.manifest}, ${MEDIA_TYPES.index}, ${MEDIA_TYPES.dockerManifest}`;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Read a body to the end; answers the error when the stream fails. */
async function readAll(res: Response): Promise<{ bytes: Uint8Array; error?: unknown }> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  } catch (error) {
    return { bytes: concat(chunks), error };
  }
  return { bytes: concat(chunks) };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
const seeding = suite("testing: seeding, then pulling with plain fetch");

seeding("an image from strings, bytes and a file pulls back byte for byte", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fr-toolkit-"));
  try {
    const file = join(dir, "layer.tar");
    const fileBytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 251);
    await writeFile(file, fileBytes);
    const registry = createTestRegistry();
    const image = await registry.seed.image("library/hello", {
      tag: ["latest", "1.0"],
      layers: ["layer one", new Uint8Array([1, 2, 3]), { file }, {
        content: "x",
        mediaType: "application/x-custom",
      }],
      config: { config: { Cmd: ["/hello"] } },
      annotations: { "org.example": "yes" },
    });
    assert.equal(image.layers.length, 4);
    assert.equal(image.layers[2].size, 70_000);
    assert.equal(image.layers[3].mediaType, "application/x-custom");

    const manifest = await registry.fetch("/v2/library/hello/manifests/latest", {
      headers: { Accept: ACCEPT },
    });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get("Docker-Content-Digest"), image.digest);
    assert.equal(manifest.headers.get("Content-Type"), MEDIA_TYPES.manifest);
    const bytes = new Uint8Array(await manifest.arrayBuffer());
    assert.deepEqual(bytes, image.bytes);
    assert.equal(sha256(bytes), image.digest);
    const json = JSON.parse(text(bytes));
    assert.equal(json.annotations["org.example"], "yes");

    const expected = [new TextEncoder().encode("layer one"), new Uint8Array([1, 2, 3]), fileBytes];
    for (const [i, want] of expected.entries()) {
      const res = await registry.fetch(`/v2/library/hello/blobs/${json.layers[i].digest}`);
      assert.equal(res.status, 200);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), want);
    }
    const config = await registry.fetch(`/v2/library/hello/blobs/${json.config.digest}`);
    const configJson = await config.json();
    assert.deepEqual(configJson.config.Cmd, ["/hello"]);
    assert.equal(configJson.architecture, "amd64");
    assert.deepEqual(configJson.rootfs.diff_ids, image.layers.map((l) => l.digest));
    assert.deepEqual(await registry.inspect.tags("library/hello"), ["1.0", "latest"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

seeding("a multi-platform index: children with platforms, each pullable", async () => {
  const registry = createTestRegistry();
  const index = await registry.seed.index("app", {
    tag: "1.0",
    manifests: [
      { platform: "linux/amd64", layers: ["x86 layer"] },
      { platform: "linux/arm64/v8", layers: ["arm layer"] },
    ],
    annotations: { "org.opencontainers.image.version": "1.0" },
  });
  const res = await registry.fetch("/v2/app/manifests/1.0", { headers: { Accept: ACCEPT } });
  assert.equal(res.headers.get("Content-Type"), MEDIA_TYPES.index);
  const json = await res.json();
  assert.equal(res.headers.get("Docker-Content-Digest"), index.digest);
  assert.deepEqual(json.manifests.map((m: { platform: unknown }) => m.platform), [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64", variant: "v8" },
  ]);
  for (const [i, child] of json.manifests.entries()) {
    assert.equal(child.digest, index.manifests[i].digest);
    const image = await registry.inspect.image("app", child.digest);
    assert.equal(image?.config.architecture, i === 0 ? "amd64" : "arm64");
    assert.equal(text(image!.layers[0].bytes), i === 0 ? "x86 layer" : "arm layer");
  }
  // Only the index is tagged.
  assert.deepEqual(await registry.inspect.tags("app"), ["1.0"]);
});

seeding("an index from images seeded before, and Docker formats", async () => {
  const registry = createTestRegistry();
  const a = await registry.seed.image("d", {
    format: "docker",
    platform: "linux/amd64",
    layers: ["a"],
  });
  const b = await registry.seed.image("d", {
    format: "docker",
    platform: "linux/arm/v7",
    layers: ["b"],
  });
  assert.equal(a.mediaType, MEDIA_TYPES.dockerManifest);
  assert.equal(a.layers[0].mediaType, MEDIA_TYPES.dockerLayer);
  assert.equal(a.config.mediaType, MEDIA_TYPES.dockerConfig);
  const list = await registry.seed.index("d", {
    format: "docker",
    manifests: [a, b],
    tag: "multi",
  });
  const got = await registry.inspect.manifest("d", "multi");
  assert.equal(got?.mediaType, MEDIA_TYPES.dockerManifestList);
  assert.equal(got?.digest, list.digest);
  assert.deepEqual(got?.json.manifests[1].platform, {
    os: "linux",
    architecture: "arm",
    variant: "v7",
  });
});

seeding("an artifact with a subject shows in the referrers API", async () => {
  const registry = createTestRegistry();
  const image = await registry.seed.image("app", { tag: "latest", layers: ["l"] });
  const sig = await registry.seed.artifact("app", {
    artifactType: "application/vnd.example.signature",
    subject: image,
    blobs: ["signature bytes"],
    annotations: { "org.example.signer": "ci" },
  });
  const sbom = await registry.seed.artifact("app", {
    artifactType: "application/vnd.example.sbom",
    subject: image,
  });
  assert.equal(
    (sbom.manifest as { layers: { mediaType: string }[] }).layers[0].mediaType,
    MEDIA_TYPES.empty,
  );

  const res = await registry.fetch(`/v2/app/referrers/${image.digest}`);
  assert.equal(res.status, 200);
  const index = await res.json();
  assert.deepEqual(
    index.manifests.map((m: { digest: string }) => m.digest).sort(),
    [sig.digest, sbom.digest].sort(),
  );
  const signatures = await registry.inspect.referrers(
    "app",
    image.digest,
    "application/vnd.example.signature",
  );
  assert.equal(signatures.length, 1);
  assert.equal(signatures[0].digest, sig.digest);
  assert.equal(signatures[0].annotations?.["org.example.signer"], "ci");
  assert.equal(
    await registry.inspect.blobText(
      "app",
      (sig.manifest as { layers: { digest: string }[] }).layers[0].digest,
    ),
    "signature bytes",
  );
  // Artifacts pushed by digest add no tag.
  assert.deepEqual(await registry.inspect.tags("app"), ["latest"]);
});

seeding("tag, raw manifest, lone blobs, and errors name the failed request", async () => {
  const registry = createTestRegistry();
  const image = await registry.seed.image("app", { tag: "1.0.0" });
  const retagged = await registry.seed.tag("app", "latest", image);
  assert.equal(retagged.digest, image.digest);
  assert.deepEqual(await registry.inspect.snapshot(), {
    app: { "1.0.0": image.digest, latest: image.digest },
  });

  const empty = await registry.seed.manifest("app", {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [],
  }, {
    tag: "empty",
  });
  assert.equal((await registry.inspect.manifest("app", "empty"))?.digest, empty.digest);

  const blob = await registry.seed.blob("blobs-only", "hello");
  assert.equal(blob.digest, sha256("hello"));
  assert.equal(await registry.inspect.blobText("blobs-only", blob.digest), "hello");

  await assert.rejects(
    registry.seed.manifest("app", {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: image.config,
      layers: [{ mediaType: MEDIA_TYPES.layer, digest: sha256("nope"), size: 4 }],
    }),
    (e: unknown) =>
      e instanceof RegistryResponseError && e.status === 400 && e.code === "MANIFEST_BLOB_UNKNOWN",
  );
  await assert.rejects(
    registry.seed.blob("Bad Name", "x"),
    (e: unknown) => e instanceof RegistryResponseError && e.code === "NAME_INVALID",
  );
});

seeding(
  "seeding and inspecting work on a registry mounted under a basePath, and on any fetcher",
  async () => {
    const registry = createTestRegistry({ basePath: "/registry" });
    const image = await registry.seed.image("app", { tag: "latest", layers: ["x"] });
    const res = await registry.fetch("/registry/v2/app/manifests/latest", {
      headers: { Accept: ACCEPT },
    });
    assert.equal(res.headers.get("Docker-Content-Digest"), image.digest);
    assert.deepEqual(await registry.inspect.repositories(), ["app"]);

    const plain = createRegistry();
    const seed = createSeeder(plain);
    const inspect = createInspector(plain);
    const other = await seed.image("x/y", { tag: "t" });
    assert.deepEqual(await inspect.snapshot(), { "x/y": { t: other.digest } });
  },
);

// ---------------------------------------------------------------------------------------------
const inspecting = suite("testing: inspecting what a client pushed");

inspecting(
  "a push done with plain fetch is read back: repositories, tags, manifest, blobs",
  async () => {
    const registry = createTestRegistry();
    const layer = new TextEncoder().encode("pushed by a client");
    const config = new TextEncoder().encode("{}");
    for (const blob of [layer, config]) {
      const res = await registry.fetch(`/v2/team/tool/blobs/uploads/?digest=${sha256(blob)}`, {
        method: "POST",
        body: blob,
      });
      assert.equal(res.status, 201);
    }
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: { mediaType: MEDIA_TYPES.config, digest: sha256(config), size: config.byteLength },
      layers: [{ mediaType: MEDIA_TYPES.layer, digest: sha256(layer), size: layer.byteLength }],
    });
    const put = await registry.fetch("/v2/team/tool/manifests/v1", {
      method: "PUT",
      body: manifest,
      headers: { "Content-Type": MEDIA_TYPES.manifest },
    });
    assert.equal(put.status, 201);

    assert.deepEqual(await registry.inspect.repositories(), ["team/tool"]);
    assert.deepEqual(await registry.inspect.tags("team/tool"), ["v1"]);
    const got = await registry.inspect.manifest("team/tool", "v1");
    assert.equal(got?.text, manifest);
    assert.equal(got?.json.layers[0].digest, sha256(layer));
    assert.equal(
      await registry.inspect.blobText("team/tool", sha256(layer)),
      "pushed by a client",
    );
    const image = await registry.inspect.image("team/tool", "v1");
    assert.deepEqual(image?.config, {});
  },
);

inspecting("absent things are undefined or empty, not errors", async () => {
  const registry = createTestRegistry();
  assert.deepEqual(await registry.inspect.repositories(), []);
  assert.deepEqual(await registry.inspect.tags("nothing/here"), []);
  assert.equal(await registry.inspect.manifest("nothing", "latest"), undefined);
  assert.equal(await registry.inspect.blob("nothing", sha256("x")), undefined);
  assert.equal(await registry.inspect.image("nothing", "latest"), undefined);
  assert.deepEqual(await registry.inspect.referrers("nothing", sha256("x")), []);
  assert.deepEqual(await registry.inspect.snapshot(), {});
});

inspecting("listings are read page after page", async () => {
  const registry = createTestRegistry();
  const image = await registry.seed.image("many");
  const tags = ["a", "b", "c", "d", "e"];
  await registry.seed.manifest("many", image.bytes, { mediaType: image.mediaType, tag: tags });
  await registry.seed.image("other", { tag: "x" });
  await registry.seed.image("third", { tag: "y" });
  const inspect = createInspector(registry, { pageSize: 2 });
  assert.deepEqual(await inspect.tags("many"), tags);
  assert.deepEqual(await inspect.repositories(), ["many", "other", "third"]);
  // three tag pages and two catalog pages, each following Link
  const recorder = createRecorder();
  const recorded = createInspector({ fetch: recorder.wrap(registry.registry.fetch) }, {
    pageSize: 2,
  });
  await recorded.tags("many");
  assert.deepEqual(recorder.log.summary(), [
    "GET /v2/many/tags/list?n=2 200",
    "GET /v2/many/tags/list?n=2&last=b 200",
    "GET /v2/many/tags/list?n=2&last=d 200",
  ]);
});

// ---------------------------------------------------------------------------------------------
const recording = suite("testing: request recording");

recording(
  "method, path, query, status, headers, bytes and duration; seeding is not recorded",
  async () => {
    const registry = createTestRegistry();
    const image = await registry.seed.image("app", { tag: "latest", layers: ["abc"] });
    assert.equal(registry.requests.length, 0);

    await registry.fetch("/v2/");
    const head = await registry.fetch("/v2/app/manifests/latest", {
      method: "HEAD",
      headers: { Accept: ACCEPT },
    });
    assert.equal(head.status, 200);
    const get = await registry.fetch(`/v2/app/blobs/${image.layers[0].digest}?ns=example.com`);
    await get.arrayBuffer();
    const missing = await registry.fetch("/v2/app/manifests/nope");
    await missing.body?.cancel();
    const body = new TextEncoder().encode("0123456789");
    const push = await registry.fetch(`/v2/app/blobs/uploads/?digest=${sha256(body)}`, {
      method: "POST",
      body,
    });
    assert.equal(push.status, 201);

    assert.deepEqual(registry.requests.summary(), [
      "GET /v2/ 200",
      "HEAD /v2/app/manifests/latest 200",
      `GET /v2/app/blobs/${image.layers[0].digest}?ns=example.com 200`,
      "GET /v2/app/manifests/nope 404",
      `POST /v2/app/blobs/uploads/?digest=${sha256(body)} 201`,
    ]);
    const [base, headEntry, blob, notFound, post] = registry.requests.all;
    assert.equal(base.responseBytes, 2);
    assert.equal(headEntry.responseBytes, 0);
    assert.equal(headEntry.requestHeaders.Accept, ACCEPT);
    assert.equal(headEntry.responseHeaders["Docker-Content-Digest"], image.digest);
    assert.equal(blob.path, `/v2/app/blobs/${image.layers[0].digest}`);
    assert.equal(blob.query, "?ns=example.com");
    assert.equal(blob.responseBytes, 3);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.responseHeaders["Content-Type"], "application/json");
    assert.equal(post.requestBytes, 10);
    assert.ok(post.responseHeaders.Location?.startsWith("/v2/app/blobs/sha256:"));
    for (const r of registry.requests) {
      assert.ok(
        r.duration >= 0 && r.duration < 5000,
        String(r.duration),
      );
    }
    assert.deepEqual(JSON.parse(JSON.stringify(registry.requests.all[0])).faults, []);
  },
);

recording(
  "a streamed request body (no Content-Length) is counted as the registry reads it",
  async () => {
    const registry = createTestRegistry();
    const start = await registry.fetch("/v2/app/blobs/uploads/", { method: "POST" });
    const location = start.headers.get("Location")!;
    const chunks = [new Uint8Array(1000), new Uint8Array(2345)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const patch = await registry.fetch(
      location,
      { method: "PATCH", body: stream, duplex: "half" } as RequestInit,
    );
    assert.equal(patch.status, 202);
    assert.equal(patch.headers.get("Range"), "0-3344");
    assert.equal(registry.requests.last()?.requestBytes, 3345);
    assert.equal(registry.requests.last()?.requestHeaders["Content-Length"], undefined);
  },
);

recording("filter, count, last, clear; record options", async () => {
  const registry = createTestRegistry();
  await registry.fetch("/v2/");
  await registry.fetch("/v2/a/tags/list");
  await registry.fetch("/v2/b/tags/list");
  assert.equal(registry.requests.count(), 3);
  assert.equal(registry.requests.count({ status: 404 }), 2);
  assert.equal(registry.requests.count({ path: "/v2/*/tags/list" }), 2);
  assert.equal(registry.requests.filter((r) => r.path.startsWith("/v2/b")).length, 1);
  assert.equal(registry.requests.last({ method: "GET", status: 200 })?.path, "/v2/");
  assert.equal(registry.requests.last({ method: "DELETE" }), undefined);
  registry.requests.clear();
  assert.equal(registry.requests.length, 0);
  assert.deepEqual(registry.requests.summary(), []);

  const quiet = createTestRegistry({ record: false });
  await quiet.fetch("/v2/");
  assert.equal(quiet.requests.length, 0);

  const few = createTestRegistry({
    record: { headers: ["Docker-Distribution-API-Version"], limit: 2 },
  });
  for (let i = 0; i < 3; i++) await few.fetch(`/v2/?i=${i}`);
  assert.deepEqual(few.requests.all.map((r) => r.query), ["?i=1", "?i=2"]);
  assert.deepEqual(few.requests.last()?.responseHeaders, {
    "Docker-Distribution-API-Version": "registry/2.0",
  });

  const capped = createTestRegistry({ record: { limit: 20 } });
  for (let i = 0; i < 45; i++) await capped.fetch(`/v2/?i=${i}`);
  assert.ok(
    capped.requests.length <= 20 && capped.requests.length >= 18,
    String(capped.requests.length),
  );
  const kept = capped.requests.all.map((r) => Number(r.query.slice(3)));
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 45 - kept.length + i));
});

recording("createRecorder and createFaults wrap any handler", async () => {
  const registry = createRegistry();
  const recorder = createRecorder();
  const faults = createFaults();
  const fetch = recorder.wrap(faults.wrap(registry.fetch), faults.markOf);
  faults.add({ name: "down", path: "/v2/", nth: 1, status: 503 });
  assert.equal((await fetch(new Request("http://x/v2/"))).status, 503);
  assert.equal((await fetch(new Request("http://x/v2/"))).status, 200);
  assert.deepEqual(recorder.log.all.map((r) => r.faults), [["down"], []]);
  assert.equal(recorder.log.count({ faulted: true }), 1);
});

// ---------------------------------------------------------------------------------------------
const faults = suite("testing: fault injection");

async function errorOf(res: Response): Promise<{ code: string; message: string; detail: unknown }> {
  const body = await res.json();
  return body.errors[0];
}

faults("429 with Retry-After and the OCI code; HEAD has no body", async () => {
  const registry = createTestRegistry();
  registry.faults.add({ route: "manifest", status: 429, retryAfter: 3 });
  const res = await registry.fetch("/v2/app/manifests/latest");
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("Retry-After"), "3");
  assert.equal(res.headers.get("Content-Type"), "application/json");
  assert.equal(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
  const error = await errorOf(res);
  assert.equal(error.code, "TOOMANYREQUESTS");
  assert.equal(error.message, "too many requests");
  const head = await registry.fetch("/v2/app/manifests/latest", { method: "HEAD" });
  assert.equal(head.status, 429);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

faults("500, 503 and custom codes, messages, details and raw bodies", async () => {
  const registry = createTestRegistry();
  registry.faults.add({ path: "/v2/a/tags/list", status: 500 });
  registry.faults.add({ path: "/v2/b/tags/list", status: 503 });
  registry.faults.add({
    path: "/v2/c/tags/list",
    status: 403,
    code: "DENIED",
    message: "no",
    detail: { why: "test" },
  });
  registry.faults.add({ path: "/v2/d/tags/list", status: 502, body: "<html>Bad Gateway</html>" });
  registry.faults.add({ path: "/v2/e/tags/list", status: 418 });
  const a = await registry.fetch("/v2/a/tags/list");
  assert.equal(a.status, 500);
  assert.equal((await errorOf(a)).code, "INTERNAL");
  const b = await registry.fetch("/v2/b/tags/list");
  assert.equal(b.status, 503);
  const be = await errorOf(b);
  assert.equal(be.code, "UNAVAILABLE");
  assert.deepEqual(be.detail, { fault: "fault-2" });
  const c = await registry.fetch("/v2/c/tags/list");
  assert.deepEqual(await errorOf(c), { code: "DENIED", message: "no", detail: { why: "test" } });
  const d = await registry.fetch("/v2/d/tags/list");
  assert.equal(d.status, 502);
  assert.equal(await d.text(), "<html>Bad Gateway</html>");
  const e = await registry.fetch("/v2/e/tags/list");
  assert.equal((await errorOf(e)).code, "UNKNOWN");
});

faults("counting: nth, first k, every k-th, each rule on its own matches", async () => {
  const registry = createTestRegistry();
  registry.faults.add({ path: "/v2/", method: "GET", nth: 2, status: 500 });
  registry.faults.add({ path: "/v2/", method: "GET", first: 1, status: 503 });
  registry.faults.add({ path: "/v2/", method: "GET", every: 3, status: 429 });
  const statuses = [];
  for (let i = 0; i < 7; i++) statuses.push((await registry.fetch("/v2/")).status);
  assert.deepEqual(statuses, [503, 500, 429, 200, 200, 429, 200]);
  assert.deepEqual(registry.faults.rules.map((r) => [r.matched, r.applied]), [[7, 1], [7, 1], [
    7,
    2,
  ]]);
  // HEAD does not match method GET, so it does not count either.
  assert.equal((await registry.fetch("/v2/", { method: "HEAD" })).status, 200);
  assert.equal(registry.faults.rules[0].matched, 7);
});

faults("matching: method, path glob, RegExp, route and a predicate", async () => {
  const registry = createTestRegistry();
  const image = await registry.seed.image("a/b", { tag: "latest", layers: ["l"] });
  registry.faults.add({ route: "blob", method: ["GET"], status: 500 });
  registry.faults.add({ path: "/v2/**/manifests/*", method: "PUT", status: 503 });
  registry.faults.add({
    path: /\/tags\/list$/,
    status: 401,
    headers: { "WWW-Authenticate": 'Basic realm="test"' },
  });
  registry.faults.add({
    match: (r) => r.headers.get("X-Break") === "yes",
    status: 418,
    code: "TEAPOT",
  });
  assert.equal((await registry.fetch(`/v2/a/b/blobs/${image.layers[0].digest}`)).status, 500);
  assert.equal(
    (await registry.fetch(`/v2/a/b/blobs/${image.layers[0].digest}`, { method: "HEAD" })).status,
    200,
  );
  assert.equal(
    (await registry.fetch("/v2/a/b/manifests/x", { method: "PUT", body: "{}" })).status,
    503,
  );
  assert.equal(
    (await registry.fetch("/v2/a/b/manifests/latest", { headers: { Accept: ACCEPT } })).status,
    200,
  );
  const tags = await registry.fetch("/v2/a/b/tags/list");
  assert.equal(tags.status, 401);
  assert.equal(tags.headers.get("WWW-Authenticate"), 'Basic realm="test"');
  assert.equal((await errorOf(tags)).code, "UNAUTHORIZED");
  assert.equal((await registry.fetch("/v2/", { headers: { "X-Break": "yes" } })).status, 418);
  assert.equal((await registry.fetch("/v2/")).status, 200);
  assert.ok(pathPattern("/v2/**/blobs/sha256:*").test("/v2/a/b/c/blobs/sha256:00"));
  assert.ok(!pathPattern("/v2/*/tags/list").test("/v2/a/b/tags/list"));
});

faults("latency delays the answer by at least the given time", async () => {
  const registry = createTestRegistry();
  registry.faults.add({ path: "/v2/", latency: 40 });
  const t0 = performance.now();
  const res = await registry.fetch("/v2/");
  const elapsed = performance.now() - t0;
  assert.equal(res.status, 200);
  assert.ok(elapsed >= 35, `elapsed ${elapsed}`);
  assert.ok(registry.requests.last()!.duration >= 35);
  // latency combines with a status
  registry.faults.reset();
  registry.faults.add({ path: "/v2/", latency: 20, status: 503 });
  const t1 = performance.now();
  assert.equal((await registry.fetch("/v2/")).status, 503);
  assert.ok(performance.now() - t1 >= 15);
});

faults("cutAfter fails the body after N bytes (error), or ends it short (end)", async () => {
  const registry = createTestRegistry();
  const data = new Uint8Array(100_000).map((_, i) => i % 256);
  const blob = await registry.seed.blob("app", data);
  registry.faults.add({ route: "blob", method: "GET", nth: 1, cutAfter: 1000 });
  registry.faults.add({ route: "blob", method: "GET", nth: 2, cutAfter: 10, cutMode: "end" });
  registry.faults.add({ route: "blob", method: "GET", nth: 3, cutAfter: 0 });

  const first = await registry.fetch(`/v2/app/blobs/${blob.digest}`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("Content-Length"), "100000");
  const r1 = await readAll(first);
  assert.ok(r1.error instanceof Error, "the stream fails");
  assert.equal(r1.bytes.byteLength, 1000);
  assert.deepEqual(r1.bytes, data.subarray(0, 1000));
  assert.equal(registry.requests.last()?.responseBytes, 1000);

  const second = await registry.fetch(`/v2/app/blobs/${blob.digest}`);
  assert.equal(second.headers.get("Content-Length"), null);
  const r2 = await readAll(second);
  assert.equal(r2.error, undefined);
  assert.deepEqual(r2.bytes, data.subarray(0, 10));
  assert.equal(registry.requests.last()?.responseBytes, 10);

  const third = await readAll(await registry.fetch(`/v2/app/blobs/${blob.digest}`));
  assert.ok(third.error instanceof Error);
  assert.equal(third.bytes.byteLength, 0);

  const fourth = new Uint8Array(
    await (await registry.fetch(`/v2/app/blobs/${blob.digest}`)).arrayBuffer(),
  );
  assert.deepEqual(fourth, data);
});

faults("Warning headers (and other headers) on answers the registry made", async () => {
  const registry = createTestRegistry();
  registry.faults.add({ path: "/v2/", warning: "this registry is deprecated" });
  registry.faults.add({ path: "/v2/", warning: ['299 - "second"'], headers: { "X-Test": "1" } });
  const res = await registry.fetch("/v2/");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
  assert.equal(res.headers.get("Warning"), '299 - "this registry is deprecated", 299 - "second"');
  assert.equal(res.headers.get("X-Test"), "1");
  assert.equal(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
  assert.equal(registry.requests.last()?.responseHeaders.Warning, res.headers.get("Warning"));
  assert.deepEqual(registry.requests.last()?.faults, ["fault-1", "fault-2"]);
});

faults("redirect blob GETs elsewhere (a string or a function of the URL)", async () => {
  const registry = createTestRegistry();
  const blob = await registry.seed.blob("app", "redirected");
  registry.faults.add({
    route: "blob",
    method: "GET",
    redirect: (url) => `https://cdn.example${url.pathname}?sig=1`,
  });
  registry.faults.add({
    route: "manifest",
    nth: 1,
    redirect: "/v2/other/manifests/x",
    redirectStatus: 302,
  });
  const res = await registry.fetch(`/v2/app/blobs/${blob.digest}`);
  assert.equal(res.status, 307);
  assert.equal(
    res.headers.get("Location"),
    `https://cdn.example/v2/app/blobs/${blob.digest}?sig=1`,
  );
  const m = await registry.fetch("/v2/app/manifests/latest");
  assert.equal(m.status, 302);
  assert.equal(m.headers.get("Location"), "/v2/other/manifests/x");
});

faults(
  "handles: remove one rule; reset removes all; seeding and inspection bypass faults",
  async () => {
    const registry = createTestRegistry();
    const a = registry.faults.add({ name: "a", path: "/v2/", status: 500 });
    registry.faults.add({ name: "b", route: "blob", status: 500 });
    registry.faults.add({ name: "c", route: "manifest", status: 500 });
    assert.deepEqual(registry.faults.rules.map((r) => r.name), ["a", "b", "c"]);
    const image = await registry.seed.image("app", { tag: "latest", layers: ["l"] });
    assert.equal((await registry.inspect.image("app", "latest"))?.layers.length, 1);
    assert.equal(registry.requests.length, 0);
    assert.equal((await registry.fetch("/v2/")).status, 500);
    a.remove();
    a.remove();
    assert.deepEqual(registry.faults.rules.map((r) => r.name), ["b", "c"]);
    assert.equal((await registry.fetch("/v2/")).status, 200);
    registry.faults.reset();
    assert.equal(registry.faults.rules.length, 0);
    assert.equal((await registry.fetch(`/v2/app/blobs/${image.layers[0].digest}`)).status, 200);
  },
);

faults("rules are checked when added", () => {
  const registry = createTestRegistry();
  assert.throws(() => registry.faults.add({ nth: 1, first: 2, status: 500 }), TypeError);
  assert.throws(() => registry.faults.add({ nth: 0, status: 500 }), RangeError);
  assert.throws(() => registry.faults.add({ every: 1.5, status: 500 }), RangeError);
  assert.throws(() => registry.faults.add({ cutAfter: -1 }), RangeError);
  assert.throws(() => registry.faults.add({ redirect: "/x", status: 500 }), TypeError);
  assert.equal(registry.faults.rules.length, 0);
});

faults("an answered request's upload body is dropped, and the session is untouched", async () => {
  const registry = createTestRegistry();
  const start = await registry.fetch("/v2/app/blobs/uploads/", { method: "POST" });
  const location = start.headers.get("Location")!;
  registry.faults.add({ method: "PATCH", nth: 1, status: 503 });
  const body = new TextEncoder().encode("chunk");
  assert.equal((await registry.fetch(location, { method: "PATCH", body })).status, 503);
  const status = await registry.fetch(location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get("Range"), "0-0");
  assert.equal((await registry.fetch(location, { method: "PATCH", body })).status, 202);
});

// ---------------------------------------------------------------------------------------------
const resets = suite("testing: reset");

resets("reset clears faults and recording; { storage: true } empties the registry", async () => {
  const registry = createTestRegistry();
  await registry.seed.image("app", { tag: "latest" });
  registry.faults.add({ status: 500 });
  await registry.fetch("/v2/");
  await registry.reset();
  assert.equal(registry.faults.rules.length, 0);
  assert.equal(registry.requests.length, 0);
  assert.deepEqual(await registry.inspect.tags("app"), ["latest"]);
  const before = registry.storage;
  await registry.reset({ storage: true });
  assert.notEqual(registry.storage, before);
  assert.deepEqual(await registry.inspect.repositories(), []);
  assert.equal((await registry.fetch("/v2/app/manifests/latest")).status, 404);

  const own = createTestRegistry({ storage: memoryStorage() });
  await assert.rejects(own.reset({ storage: true }), TypeError);
});

// ---------------------------------------------------------------------------------------------
/** A small retrying client: what a registry client does about 429, 5xx and broken bodies. */
function retryingClient(
  fetchFn: (url: string, init?: RequestInit) => Promise<Response>,
  base: string,
) {
  const log: string[] = [];
  async function attempt<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let i = 1;; i++) {
      try {
        return await run();
      } catch (error) {
        log.push(`${what}: ${(error as Error).message}`);
        if (i >= 6) throw error;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }
  async function get(
    path: string,
    init: RequestInit = {},
    digest?: string,
  ): Promise<{ res: Response; bytes: Uint8Array }> {
    return await attempt(path, async () => {
      const res = await fetchFn(base + path, init);
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        const wait = Number(res.headers.get("Retry-After") ?? 0);
        await new Promise((r) => setTimeout(r, Math.min(wait, 0.05) * 1000));
        throw new Error(`status ${res.status}`);
      }
      if (res.status !== 200) {
        throw Object.assign(new Error(`status ${res.status}`), { fatal: true });
      }
      const bytes = new Uint8Array(await res.arrayBuffer()); // throws on a cut connection
      const length = res.headers.get("Content-Length");
      if (length !== null && Number(length) !== bytes.byteLength) throw new Error("short body");
      if (digest && sha256(bytes) !== digest) throw new Error("digest mismatch");
      return { res, bytes };
    });
  }
  return {
    log,
    async pull(repository: string, reference: string) {
      const { bytes } = await get(`/v2/${repository}/manifests/${reference}`, {
        headers: { Accept: ACCEPT },
      });
      const manifest = JSON.parse(text(bytes));
      const blobs: Uint8Array[] = [];
      for (const d of [manifest.config, ...manifest.layers]) {
        blobs.push((await get(`/v2/${repository}/blobs/${d.digest}`, {}, d.digest)).bytes);
      }
      return { manifest, digest: sha256(bytes), blobs };
    },
    async pushManifest(repository: string, tag: string, body: Uint8Array, mediaType: string) {
      return await attempt(`PUT ${tag}`, async () => {
        const res = await fetchFn(`${base}/v2/${repository}/manifests/${tag}`, {
          method: "PUT",
          body: body as Uint8Array<ArrayBuffer>,
          headers: { "Content-Type": mediaType },
        });
        await res.body?.cancel();
        if (res.status !== 201) throw new Error(`status ${res.status}`);
        return res.headers.get("Docker-Content-Digest");
      });
    },
  };
}

function addPullFaults(registry: TestRegistry, big: string, small: string) {
  registry.faults.add({
    name: "rate-limit",
    route: "manifest",
    method: "GET",
    first: 2,
    status: 429,
    retryAfter: 0,
  });
  registry.faults.add({ name: "flaky-blob", route: "blob", method: "GET", every: 3, status: 503 });
  registry.faults.add({
    name: "drop",
    path: `/v2/app/blobs/${big}`,
    method: "GET",
    nth: 1,
    cutAfter: 500,
  });
  registry.faults.add({
    name: "short",
    path: `/v2/app/blobs/${small}`,
    nth: 1,
    cutAfter: 7,
    cutMode: "end",
  });
  registry.faults.add({
    name: "put-503",
    route: "manifest",
    method: "PUT",
    nth: 1,
    status: 503,
    warning: "busy",
  });
}

async function retryScenario(
  registry: TestRegistry,
  fetchFn: (url: string, init?: RequestInit) => Promise<Response>,
  base: string,
) {
  const big = new Uint8Array(50_000).map((_, i) => (i * 13) % 256);
  const image = await registry.seed.image("app", { tag: "latest", layers: [big, "second layer"] });
  addPullFaults(registry, image.layers[0].digest, image.layers[1].digest);
  const client = retryingClient(fetchFn, base);
  const pulled = await client.pull("app", "latest");
  assert.equal(pulled.digest, image.digest);
  assert.deepEqual(pulled.blobs[1], big);
  assert.equal(text(pulled.blobs[2]), "second layer");
  const pushed = await client.pushManifest("app", "copy", image.bytes, image.mediaType);
  assert.equal(pushed, image.digest);
  assert.deepEqual(await registry.inspect.tags("app"), ["copy", "latest"]);

  // Every kind of fault happened and was recovered from.
  const byRule = Object.fromEntries(registry.faults.rules.map((r) => [r.name, r.applied]));
  assert.deepEqual(byRule, { "rate-limit": 2, "flaky-blob": 2, drop: 1, short: 1, "put-503": 1 });
  // config, big (dropped), big (503), big, small (short), small (503), small
  assert.deepEqual(registry.requests.filter({ path: "/v2/app/blobs/*" }).map((r) => r.status), [
    200,
    200,
    503,
    200,
    200,
    503,
    200,
  ]);
  assert.equal(registry.requests.count({ method: "GET", status: 429 }), 2);
  assert.ok(client.log.some((l) => l.includes("status 429")));
  assert.ok(client.log.some((l) => l.includes("status 503")));
  assert.ok(client.log.some((l) => l.includes("digest mismatch")), client.log.join("\n"));
  assert.ok(client.log.length >= 6, client.log.join("\n"));
  assert.equal(registry.requests.last()?.status, 201);
  return client.log;
}

const retry = suite("testing: a retrying client recovers from injected faults");

retry("in-process: 429, 503, a dropped connection and a short body", async () => {
  const registry = createTestRegistry();
  const log = await retryScenario(registry, (url, init) => registry.fetch(url, init), "");
  assert.ok(log.some((l) => l.includes("cut after 500 bytes")), log.join("\n"));
});

let server: RunningTestRegistry | undefined;
let cdn: RunningTestRegistry | undefined;
retry.after(async () => {
  await server?.close();
  await cdn?.close();
});

retry("over a real socket, with plain fetch", async () => {
  server = await startTestRegistry();
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.host, `127.0.0.1:${server.port}`);
  const log = await retryScenario(server, (url, init) => fetch(url, init), server.url);
  // over a socket, the dropped connection shows as a fetch error or a short read
  assert.ok(log.length >= 6);
});

retry(
  "over a real socket: a cut body delivers N bytes then the connection drops; end mode ends short",
  async () => {
    server ??= await startTestRegistry();
    await server.reset({ storage: true });
    // Over 1 MiB: serveBun buffers smaller stream bodies to keep their Content-Length, and a body
    // that fails while buffered becomes a 500 there instead of a dropped connection.
    const size = 2 * 1024 * 1024;
    const blob = await server.seed.blob("app", new Uint8Array(size).fill(7));
    server.faults.add({ route: "blob", nth: 1, cutAfter: 500 });
    server.faults.add({ route: "blob", nth: 2, cutAfter: 300, cutMode: "end" });
    const first = await fetch(`${server.url}/v2/app/blobs/${blob.digest}`);
    assert.equal(first.status, 200);
    // Bun.serve sends every stream body chunked, dropping Content-Length (oven-sh/bun#10507); the
    // cut body is a stream. Node and Deno keep the declared length.
    assert.equal(first.headers.get("Content-Length"), "Bun" in globalThis ? null : String(size));
    const r1 = await readAll(first);
    assert.ok(r1.error, "the connection drops");
    assert.equal(r1.bytes.byteLength, 500);
    const r2 = await readAll(await fetch(`${server.url}/v2/app/blobs/${blob.digest}`));
    assert.equal(r2.error, undefined);
    assert.equal(r2.bytes.byteLength, 300);
    const r3 = await readAll(await fetch(`${server.url}/v2/app/blobs/${blob.digest}`));
    assert.equal(r3.bytes.byteLength, size);
    assert.deepEqual(server.requests.all.map((r) => r.responseBytes), [500, 300, size]);
  },
);

retry(
  "over a real socket: blob GETs redirected to another server are followed by fetch",
  async () => {
    server ??= await startTestRegistry();
    await server.reset({ storage: true });
    cdn = await startTestRegistry();
    const data = new TextEncoder().encode("from the cdn");
    const blob = await server.seed.blob("app", data);
    await cdn.seed.blob("mirror", data);
    const target = cdn.url;
    server.faults.add({
      route: "blob",
      method: "GET",
      redirect: (url) => `${target}${url.pathname.replace("/app/", "/mirror/")}`,
    });
    const res = await fetch(`${server.url}/v2/app/blobs/${blob.digest}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "from the cdn");
    assert.equal(server.requests.last()?.status, 307);
    assert.deepEqual(cdn.requests.summary(), [`GET /v2/mirror/blobs/${blob.digest} 200`]);
  },
);

seeding.run();
inspecting.run();
recording.run();
faults.run();
resets.run();
retry.run();
