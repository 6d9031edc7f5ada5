/**
 * The protocol suite, push of manifests: Docker, indexes, schema 1, invalid content, multi-tag.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  expectError,
  expectStatus,
  pushBlob,
  pushManifest,
  putManifest,
  streamOf,
} from "../support/http.ts";
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
} from "../support/oci.ts";
import {
  detailText,
  equalBytes,
  pushImage,
  pushImageBlobs,
  type SuiteContext,
  tagsOf,
} from "./helpers.ts";

/** Register the tests of push of manifests: Docker, indexes, schema 1, invalid content, multi-tag. */
export function manifestKindTests({ fresh, group }: SuiteContext): void {
  const manifests = group("manifests");

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
}
