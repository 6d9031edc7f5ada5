/**
 * Stateless replicas: two registry server processes (the CLI, on the runtime running this file)
 * over one S3 bucket and prefix (Ceph RGW, see tests/support/s3_env.ts). A chunked upload whose
 * PATCHes alternate between them and whose PUT goes to either; pulls from the other; concurrent
 * tag updates from both ending consistent; skopeo pushing through one and pulling through the
 * other.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { detectRuntime } from "../lib/server/serve.ts";
import { type CliServer, startCliServer } from "./support/cli_process.ts";
import { type Client, client, expectStatus, locationOf, withQuery } from "./support/http.ts";
import {
  configBlob,
  describe,
  digestOf,
  OCI_CONFIG,
  OCI_LAYER,
  ociManifest,
  randomBytes,
} from "./support/oci.ts";
import { prepareS3, removePrefix, s3TestEnv, uniquePrefix } from "./support/s3_env.ts";

const RUNTIME = detectRuntime();
const MiB = 1024 * 1024;

const env = s3TestEnv();
await prepareS3(env);
const prefix = uniquePrefix("replicas");

/** A running replica: the CLI server, and a test client sending to it over HTTP. */
interface Replica extends CliServer {
  c: Client;
}

/** Start one CLI process over the shared bucket and prefix; resolves once it listens. */
async function startReplica(): Promise<Replica> {
  const storage = `s3://${env.bucket}/${prefix}?endpoint=${encodeURIComponent(env.endpoint)}` +
    `&region=${env.region}&partSize=${5 * MiB}`;
  const server = await startCliServer(storage, {
    env: { AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey },
  });
  const c = client({
    fetch: async (request) => {
      const target = new URL(request.url);
      const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
      return await fetch(server.url + target.pathname + target.search, {
        method: request.method,
        headers: request.headers,
        body,
      });
    },
  });
  return { ...server, c };
}

let a: Replica;
let b: Replica;

const test = suite(`s3 replicas (${RUNTIME})`);

test.before(async () => {
  [a, b] = await Promise.all([startReplica(), startReplica()]);
});

test.after(async () => {
  await Promise.all([a, b].map((r) => r?.stop(5000)));
});

test("a chunked upload alternates PATCHes between replicas; the PUT lands on either; pulls from both", async () => {
  const bytes = randomBytes(13 * MiB + 77, 41);
  const digest = digestOf(bytes);
  for (const closer of [b, a]) {
    const start = await a.c.call("POST", "/v2/rep/chunked/blobs/uploads/");
    expectStatus(start, 202);
    let location = locationOf(start);
    const cuts = [0, 6 * MiB, 7 * MiB + 1, 12 * MiB];
    const order = [a, b, a];
    for (let i = 0; i < order.length; i++) {
      const res = await order[i].c.call("PATCH", location, {
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Range": `${cuts[i]}-${cuts[i + 1] - 1}`,
        },
        body: bytes.subarray(cuts[i], cuts[i + 1]),
      });
      expectStatus(res, 202);
      assert.equal(res.headers.get("Range"), `0-${cuts[i + 1] - 1}`);
      location = locationOf(res);
      // The other replica knows the session's progress.
      const status = await (i % 2 ? a : b).c.call("GET", location);
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), `0-${cuts[i + 1] - 1}`);
    }
    const put = await closer.c.call("PUT", withQuery(location, { digest }), {
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Range": `${12 * MiB}-${bytes.length - 1}`,
      },
      body: bytes.subarray(12 * MiB),
    });
    expectStatus(put, 201);
    for (const r of [a, b]) {
      const got = await r.c.call("GET", `/v2/rep/chunked/blobs/${digest}`);
      expectStatus(got, 200);
      assert.equal(got.body.length, bytes.length);
      assert.equal(digestOf(got.body), digest);
      const ranged = await r.c.call("GET", `/v2/rep/chunked/blobs/${digest}`, {
        headers: { Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` },
      });
      expectStatus(ranged, 206);
      assert.deepEqual(ranged.body, bytes.subarray(5 * MiB - 10, 5 * MiB + 10));
    }
  }
});

test("a monolithic push on one replica is pulled from the other; a wrong digest stores nothing", async () => {
  const layer = randomBytes(300_000, 42);
  const digest = digestOf(layer);
  const put = await b.c.call("POST", `/v2/rep/mono/blobs/uploads/?digest=${digest}`, {
    headers: { "Content-Type": "application/octet-stream" },
    body: layer,
  });
  expectStatus(put, 201);
  const got = await a.c.call("GET", `/v2/rep/mono/blobs/${digest}`);
  expectStatus(got, 200);
  assert.deepEqual(got.body, layer);
  // A session started on A, completed on B with the wrong digest: 400 and nothing visible.
  const start = await a.c.call("POST", "/v2/rep/mono/blobs/uploads/");
  const other = randomBytes(1000, 43);
  const bad = await b.c.call(
    "PUT",
    withQuery(locationOf(start), { digest: digestOf(randomBytes(1000, 44)) }),
    {
      headers: { "Content-Type": "application/octet-stream" },
      body: other,
    },
  );
  expectStatus(bad, 400);
  expectStatus(await a.c.call("HEAD", `/v2/rep/mono/blobs/${digestOf(other)}`), 404);
});

test("concurrent tag updates from both replicas end consistent", async () => {
  const config = configBlob("replicas");
  const configDigest = digestOf(config);
  expectStatus(
    await a.c.call("POST", `/v2/rep/tags/blobs/uploads/?digest=${configDigest}`, { body: config }),
    201,
  );
  const manifests = Array.from({ length: 8 }, (_, i) =>
    ociManifest({
      config: describe(OCI_CONFIG, config),
      annotations: { n: String(i) },
    }));
  const puts = await Promise.all(
    manifests.map((m, i) =>
      (i % 2 ? a : b).c.call("PUT", "/v2/rep/tags/manifests/race", {
        headers: { "Content-Type": m.mediaType },
        body: m.bytes,
      })
    ),
  );
  for (const p of puts) expectStatus(p, 201);
  const [fromA, fromB] = await Promise.all(
    [a, b].map((r) => r.c.call("GET", "/v2/rep/tags/manifests/race")),
  );
  expectStatus(fromA, 200);
  expectStatus(fromB, 200);
  const winner = fromA.headers.get("Docker-Content-Digest");
  assert.equal(fromB.headers.get("Docker-Content-Digest"), winner, "both replicas agree");
  assert.ok(
    manifests.some((m) => m.digest === winner),
    "the tag points to one of the pushed manifests",
  );
  assert.deepEqual(fromA.body, manifests.find((m) => m.digest === winner)!.bytes);
  // Distinct tags pushed concurrently from both are all listed, by both.
  const tagPuts = await Promise.all(
    manifests.map((m, i) =>
      (i % 2 ? b : a).c.call("PUT", `/v2/rep/tags/manifests/t${i}`, {
        headers: { "Content-Type": m.mediaType },
        body: m.bytes,
      })
    ),
  );
  for (const p of tagPuts) expectStatus(p, 201);
  const expected = ["race", ...manifests.map((_, i) => `t${i}`)].sort();
  for (const r of [a, b]) {
    const list = await r.c.call("GET", "/v2/rep/tags/tags/list");
    expectStatus(list, 200);
    assert.deepEqual((list.json() as { tags: string[] }).tags, expected);
  }
  // A delete on one replica is seen by the other.
  expectStatus(await a.c.call("DELETE", `/v2/rep/tags/manifests/${manifests[0].digest}`), 202);
  expectStatus(await b.c.call("GET", "/v2/rep/tags/manifests/t0"), 404);
  const list = await b.c.call("GET", "/v2/rep/tags/tags/list");
  assert.ok(!(list.json() as { tags: string[] }).tags.includes("t0"));
});

test("skopeo pushes an image through one replica and pulls it through the other", async () => {
  const found = spawnSync("sh", ["-c", "command -v skopeo"]);
  assert.equal(found.status, 0, "skopeo is installed (apt-get install skopeo)");
  const dir = mkdtempSync(join(tmpdir(), "fetch-registry-replicas-"));
  try {
    // An OCI layout with one image: a config and a 6 MiB gzip layer (more than one part).
    const layout = join(dir, "src");
    mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
    const write = (bytes: Uint8Array) => {
      const d = digestOf(bytes);
      writeFileSync(join(layout, "blobs", "sha256", d.slice(7)), bytes);
      return d;
    };
    const layer = gzipSync(randomBytes(6 * MiB + 11, 45), { level: 0 });
    const config = configBlob("skopeo");
    write(layer);
    write(config);
    const manifest = ociManifest({
      config: describe(OCI_CONFIG, config),
      layers: [describe(OCI_LAYER, layer)],
    });
    write(manifest.bytes);
    writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{
          ...manifest.descriptor,
          annotations: { "org.opencontainers.image.ref.name": "v1" },
        }],
      }),
    );
    const skopeo = (args: string[]) => {
      const r = spawnSync("skopeo", ["--insecure-policy", ...args], {
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
    };
    skopeo([
      "copy",
      "--dest-tls-verify=false",
      `oci:${layout}:v1`,
      `docker://${a.host}/rep/skopeo:v1`,
    ]);
    const out = join(dir, "out");
    skopeo(["copy", "--src-tls-verify=false", `docker://${b.host}/rep/skopeo:v1`, `oci:${out}:v1`]);
    const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
    assert.equal(index.manifests[0].digest, manifest.digest, "same manifest digest");
    const pulled = readFileSync(join(out, "blobs", "sha256", digestOf(layer).slice(7)));
    assert.equal(digestOf(new Uint8Array(pulled)), digestOf(layer));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every object and multipart upload of this run can be removed", async () => {
  assert.equal(await removePrefix(env, prefix), 0);
});

test.run();
