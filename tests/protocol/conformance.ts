/**
 * The protocol suite, the four workflows of the OCI conformance suite (distribution-spec v1.1.1).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Answer,
  expectStatus,
  locationOf,
  pushBlob,
  putManifest,
  withQuery,
} from "../support/http.ts";
import {
  buildManifest,
  configBlob,
  describe,
  digestOf,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_LAYER,
  OCI_MANIFEST,
  ociIndex,
  ociManifest,
  randomBytes,
  utf8,
} from "../support/oci.ts";
import {
  ANNOTATION_KEY,
  chunkedUpload,
  pushImage,
  pushImageBlobs,
  referrerSetup,
  referrersOf,
  type SuiteContext,
  tagsOf,
  typeA,
  typeB,
  typeIndex,
} from "./helpers.ts";

/** Register the tests of the four workflows of the OCI conformance suite (distribution-spec v1.1.1). */
export function conformanceTests({ fresh, group }: SuiteContext): void {
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
    // POST (Location), PATCH without Content-Range (202), PUT ?digest= without body (201).
    const { put: putA } = await chunkedUpload(c, name, [blobA], {
      contentRange: false,
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
      annotations: { [ANNOTATION_KEY]: "test index" },
    });
    const idxPut = await putManifest(c, name, index);
    ok2xx(idxPut);
    const nested = ociIndex({
      artifactType: typeIndex,
      manifests: [index.descriptor],
      annotations: { [ANNOTATION_KEY]: "test index" },
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
