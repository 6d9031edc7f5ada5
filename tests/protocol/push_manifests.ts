/**
 * The protocol suite, push and pull of manifests: PUT, GET, HEAD, tags and digests.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  expectError,
  expectStatus,
  locationOf,
  pushBlob,
  pushManifest,
  putManifest,
} from "../support/http.ts";
import {
  buildManifest,
  type BuiltManifest,
  configBlob,
  describe,
  digestOf,
  DOCKER_CONFIG,
  DOCKER_LAYER,
  dockerManifest,
  dockerManifestList,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  ociIndex,
  ociManifest,
  randomBytes,
  utf8,
} from "../support/oci.ts";
import { equalBytes, pushImage, pushImageBlobs, type SuiteContext, tagsOf } from "./helpers.ts";

/** Register the tests of push and pull of manifests: PUT, GET, HEAD, tags and digests. */
export function manifestTests({ fresh, group }: SuiteContext): void {
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

  manifests.run();
}
