/**
 * The protocol suite, push: uploads whose digest does not match their content.
 *
 * @module
 */
import {
  type Client,
  expectError,
  expectStatus,
  locationOf,
  startUpload,
  streamOf,
  withQuery,
} from "../support/http.ts";
import { digestOf, randomBytes, utf8 } from "../support/oci.ts";
import type { SuiteContext } from "./helpers.ts";

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

  for (const lastChunkInPut of [false, true]) {
    badDigest(
      `chunked, ${
        lastChunkInPut ? "the last chunk in the PUT" : "every chunk PATCHed"
      }, wrong digest: 400 DIGEST_INVALID, nothing visible`,
      async () => {
        const { c } = await fresh();
        const location = await startUpload(c, "a");
        const one = await c.call("PATCH", location, {
          headers: { "Content-Range": "0-2047" },
          body: content.subarray(0, 2048),
        });
        expectStatus(one, 202);
        const last = { headers: { "Content-Range": "2048-4095" }, body: content.subarray(2048) };
        let complete = locationOf(one);
        if (!lastChunkInPut) {
          const two = await c.call("PATCH", complete, last);
          expectStatus(two, 202);
          complete = locationOf(two);
        }
        const put = await c.call(
          "PUT",
          withQuery(complete, { digest: claimed }),
          lastChunkInPut ? last : {},
        );
        expectError(put, 400, "DIGEST_INVALID");
        await nothingVisible(c, "a");
      },
    );
  }

  badDigest(
    "streamed PATCH (no Content-Range) then PUT with the wrong digest: 400 DIGEST_INVALID",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      const one = await c.call("PATCH", location, {
        body: streamOf([content.subarray(0, 100), content.subarray(100)]),
      });
      expectStatus(one, 202);
      expectError(
        await c.call("PUT", withQuery(locationOf(one), { digest: claimed })),
        400,
        "DIGEST_INVALID",
      );
      await nothingVisible(c, "a");
    },
  );

  badDigest(
    "a sha512 session finished with a wrong sha256 digest is 400 DIGEST_INVALID",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a", "?digest-algorithm=sha512");
      const one = await c.call("PATCH", location, { body: content });
      expectStatus(one, 202);
      expectError(
        await c.call("PUT", withQuery(locationOf(one), { digest: claimed })),
        400,
        "DIGEST_INVALID",
      );
      await nothingVisible(c, "a");
    },
  );

  badDigest.run();
}
