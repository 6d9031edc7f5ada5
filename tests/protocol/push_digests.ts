/**
 * The protocol suite, push: uploads whose digest does not match their content.
 *
 * @module
 */
import { type Client, expectError, expectStatus, startUpload, withQuery } from "../support/http.ts";
import { digestOf, randomBytes, utf8 } from "../support/oci.ts";
import { chunkedUpload, type ChunkedUploadOptions, type SuiteContext } from "./helpers.ts";

/** Register the tests of push: uploads whose digest does not match their content. */
export function badDigestTests({ fresh, group }: SuiteContext): void {
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

  // Chunked and streamed sessions finished with a wrong digest: the cases differ only in how the
  // bytes are sent.
  const sessions: [string, (Uint8Array | Uint8Array[])[], ChunkedUploadOptions][] = [
    [
      "chunked, every chunk PATCHed, wrong digest: 400 DIGEST_INVALID, nothing visible",
      [content.subarray(0, 2048), content.subarray(2048)],
      {},
    ],
    [
      "chunked, the last chunk in the PUT, wrong digest: 400 DIGEST_INVALID, nothing visible",
      [content.subarray(0, 2048)],
      { last: content.subarray(2048) },
    ],
    [
      "streamed PATCH (no Content-Range) then PUT with the wrong digest: 400 DIGEST_INVALID",
      [[content.subarray(0, 100), content.subarray(100)]],
      {},
    ],
    [
      "a sha512 session finished with a wrong sha256 digest is 400 DIGEST_INVALID",
      [content],
      { query: "?digest-algorithm=sha512", contentRange: false },
    ],
  ];
  for (const [title, chunks, options] of sessions) {
    badDigest(title, async () => {
      const { c } = await fresh();
      const { put } = await chunkedUpload(c, "a", chunks, { ...options, digest: claimed });
      expectError(put, 400, "DIGEST_INVALID");
      await nothingVisible(c, "a");
    });
  }

  badDigest.run();
}
