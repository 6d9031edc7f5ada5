/**
 * The protocol suite, management: DELETE of manifests, tags and blobs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { expectError, expectStatus, pushBlob, pushManifest } from "../support/http.ts";
import { utf8 } from "../support/oci.ts";
import { pushImage, type SuiteContext, tagsOf } from "./helpers.ts";

/** Register the tests of management: DELETE of manifests, tags and blobs. */
export function managementTests({ fresh, group }: SuiteContext): void {
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
}
