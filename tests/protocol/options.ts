/**
 * The protocol suite, the registry options (deletion, referrers, readOnly, sparseIndexes, basePath, uploadTtlMs…).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createRegistry } from "../../lib/registry.ts";
import {
  client,
  expectError,
  expectStatus,
  locationOf,
  pushBlob,
  pushManifest,
  putManifest,
  startUpload,
  withQuery,
} from "../support/http.ts";
import {
  configBlob,
  describe,
  digestOf,
  dockerManifestList,
  EMPTY_JSON,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_LAYER,
  OCI_MANIFEST,
  ociIndex,
  ociManifest,
  utf8,
} from "../support/oci.ts";
import { detailText, pushImage, pushImageBlobs, type SuiteContext } from "./helpers.ts";

/** Register the tests of the registry options (deletion, referrers, readOnly, sparseIndexes, basePath, uploadTtlMs…). */
export function optionTests({ fresh, group, makeStorage }: SuiteContext): void {
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
}
