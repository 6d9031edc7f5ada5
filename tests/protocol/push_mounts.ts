/**
 * The protocol suite, push: cross-repository mounts and per-repository visibility.
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
  withQuery,
} from "../support/http.ts";
import { digestOf, ociIndex, randomBytes, utf8 } from "../support/oci.ts";
import { detailText, equalBytes, pushImage, pushImageBlobs, type SuiteContext } from "./helpers.ts";

/** Register the tests of push: cross-repository mounts and per-repository visibility. */
export function mountTests({ fresh, group }: SuiteContext): void {
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
}
