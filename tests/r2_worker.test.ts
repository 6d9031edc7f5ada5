/**
 * The Worker entry (lib/workers/worker.ts) as wrangler would deploy it: bundled with esbuild for
 * `nodejs_compat` (platform neutral, `node:*` left to workerd), checked for what it must not
 * hold (node:http, node:fs, the S3 client, the servers, the CLI), then served by Miniflare's
 * workerd over a local R2 bucket: a push and a pull through it, chunked and monolithic, ranges
 * with their Content-Length, and its binding configuration.
 *
 * @module
 */
import assert from "node:assert/strict";
import { suite } from "uvu";
import { digestOf } from "../lib/testing/content.ts";
import { client, expectStatus, locationOf, withQuery } from "./support/http.ts";
import { pushImage } from "./protocol/helpers.ts";
import { dispatcher, forward } from "./support/r2_remote.ts";
import { bundleWorker, startWorkerd } from "./support/workerd.ts";

const MiB = 1024 * 1024;
const bundle = await bundleWorker("lib/workers/worker.ts");
const test = suite("Worker entry (lib/workers/worker.ts) in workerd");

test("the bundle holds the core and the R2 adapter, and no Node server, fs, S3 or CLI", () => {
  const forbidden = bundle.inputs.filter((m) =>
    /^lib\/(server|cli|s3|storage\/(fs|s3))\//.test(m) || /aws4fetch/.test(m)
  );
  assert.deepEqual(forbidden, [], `the Worker bundle loads ${forbidden.join(", ")}`);
  assert.ok(bundle.inputs.includes("lib/storage/r2/mod.ts"));
  assert.ok(bundle.inputs.includes("lib/registry.ts"));
  // Only what workerd's nodejs_compat provides is left as an import.
  assert.deepEqual(bundle.external, ["node:crypto"]);
  for (const name of ["node:http", "node:fs", "node:net", "S3Client", "createServer"]) {
    assert.ok(!bundle.code.includes(name), `the bundle mentions ${name}`);
  }
});

test("push and pull through the Worker: chunked and monolithic uploads, ranges", async () => {
  const mf = await startWorkerd({ code: bundle.code, binding: "REGISTRY_BUCKET" });
  try {
    const c = client({ fetch: forward(dispatcher(mf)) });
    expectStatus(await c.call("GET", "/v2/"), 200);
    const image = await pushImage(c, "lib/app", "worker", "v1");
    const got = await c.call("GET", "/v2/lib/app/manifests/v1");
    expectStatus(got, 200);
    assert.deepEqual(got.body, image.manifest.bytes);
    // A chunked upload of 12 MiB in uneven PATCHes (several R2 parts, several segments).
    const bytes = new Uint8Array(12 * MiB + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 13)) & 255;
    const start = await c.call("POST", "/v2/lib/app/blobs/uploads/");
    expectStatus(start, 202);
    let location = locationOf(start);
    for (
      const [from, to] of [[0, 3 * MiB + 1], [3 * MiB + 1, 11 * MiB], [11 * MiB, bytes.length]]
    ) {
      const patch = await c.call("PATCH", location, {
        headers: { "Content-Range": `${from}-${to - 1}` },
        body: bytes.subarray(from, to),
      });
      expectStatus(patch, 202);
      location = locationOf(patch);
    }
    const digest = digestOf(bytes);
    expectStatus(await c.call("PUT", withQuery(location, { digest })), 201);
    const blob = await c.call("GET", `/v2/lib/app/blobs/${digest}`);
    expectStatus(blob, 200);
    assert.equal(blob.headers.get("Content-Length"), String(bytes.length));
    assert.equal(digestOf(blob.body), digest);
    const ranged = await c.call("GET", `/v2/lib/app/blobs/${digest}`, {
      headers: { Range: `bytes=${3 * MiB}-${11 * MiB + 9}` },
    });
    expectStatus(ranged, 206);
    assert.equal(ranged.headers.get("Content-Length"), String(8 * MiB + 10));
    assert.equal(digestOf(ranged.body), digestOf(bytes.subarray(3 * MiB, 11 * MiB + 10)));
    // Monolithic: POST ?digest= with the body.
    const mono = bytes.subarray(0, 6 * MiB);
    const put = await c.call("POST", `/v2/other/blobs/uploads/?digest=${digestOf(mono)}`, {
      body: mono,
    });
    expectStatus(put, 201);
    const back = await c.call("GET", `/v2/other/blobs/${digestOf(mono)}`);
    assert.equal(digestOf(back.body), digestOf(mono));
  } finally {
    await mf.dispose();
  }
});

test("the binding is named by REGISTRY_BINDING; a missing binding is a 503 naming nothing", async () => {
  const mf = await startWorkerd({
    code: bundle.code,
    binding: "IMAGES",
    bindings: { REGISTRY_BINDING: "IMAGES", REGISTRY_PREFIX: "prod" },
  });
  const bare = await startWorkerd({ code: bundle.code, binding: "SOMETHING_ELSE" });
  try {
    const c = client({ fetch: forward(dispatcher(mf)) });
    await pushImage(c, "a", "bound", "t");
    expectStatus(await c.call("GET", "/v2/a/manifests/t"), 200);
    const missing = await client({ fetch: forward(dispatcher(bare)) }).call("GET", "/v2/");
    expectStatus(missing, 503);
    assert.equal((missing.json() as { errors: { code: string }[] }).errors[0].code, "UNAVAILABLE");
    assert.ok(!missing.text.includes("REGISTRY_BUCKET"));
  } finally {
    await mf.dispose();
    await bare.dispose();
  }
});

test.run();
