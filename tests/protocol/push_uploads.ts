/**
 * The protocol suite, push: upload sessions (POST, PATCH, PUT, monolithic and chunked).
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
  startUpload,
  streamOf,
  withQuery,
} from "../support/http.ts";
import { configBlob, digestOf, randomBytes, utf8 } from "../support/oci.ts";
import { chunkedUpload, equalBytes, type SuiteContext } from "./helpers.ts";

/** Register the tests of push: upload sessions (POST, PATCH, PUT, monolithic and chunked). */
export function uploadTests({ fresh, group, makeStorage }: SuiteContext): void {
  // ───────────────────────────── uploads ─────────────────────────────
  const uploads = group("uploads");

  uploads(
    "POST answers 202 with Location, Range 0-0 (or none), Docker-Upload-UUID; ids differ",
    async () => {
      const { c } = await fresh();
      const first = await c.call("POST", "/v2/a/b/blobs/uploads/", {
        headers: { "Content-Length": "0" },
      });
      expectStatus(first, 202);
      const location = first.headers.get("Location") ?? "";
      assert.match(
        location,
        /^\/v2\/a\/b\/blobs\/uploads\/[A-Za-z0-9_=.~-]+(\?.*)?$/,
        "relative Location",
      );
      const range = first.headers.get("Range");
      assert.ok(range === null || range === "0-0", `Range is 0-0 or absent, got ${range}`);
      const uuid = first.headers.get("Docker-Upload-UUID") ?? "";
      assert.ok(uuid.length > 0, "Docker-Upload-UUID present");
      const id = new URL(location, "http://x").pathname.split("/").pop() ?? "";
      assert.ok(id.length >= 16, `session id is long enough to be unguessable: ${id}`);
      const min = first.headers.get("OCI-Chunk-Min-Length");
      if (min !== null) assert.match(min, /^\d+$/, "OCI-Chunk-Min-Length is a number");
      const second = await c.call("POST", "/v2/a/b/blobs/uploads/");
      assert.notEqual(locationOf(second), locationOf(first), "each session has its own Location");
    },
  );

  uploads("POST without the trailing slash starts a session too", async () => {
    const { c } = await fresh();
    const res = await c.call("POST", "/v2/a/blobs/uploads");
    expectStatus(res, 202);
    assert.ok(locationOf(res).startsWith("/v2/a/blobs/uploads/"));
  });

  uploads(
    "single POST with ?digest= stores the blob: 201, Location, Docker-Content-Digest",
    async () => {
      const { c } = await fresh();
      const bytes = configBlob("single-post");
      const digest = digestOf(bytes);
      expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${digest}`, {
        headers: { "Content-Type": "application/octet-stream" },
        body: bytes,
      });
      expectStatus(res, 201);
      assert.equal(locationOf(res), `/v2/a/blobs/${digest}`);
      assert.equal(res.headers.get("Docker-Content-Digest"), digest);
      const get = await c.call("GET", `/v2/a/blobs/${digest}`);
      expectStatus(get, 200);
      equalBytes(get.body, bytes, "blob body");
    },
  );

  uploads(
    "POST then monolithic PUT with the whole body: 201, Location, Docker-Content-Digest",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(5000, 9);
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const res = await c.call("PUT", withQuery(location, { digest }), {
        headers: { "Content-Type": "application/octet-stream" },
        body: bytes,
      });
      expectStatus(res, 201);
      assert.equal(locationOf(res), `/v2/a/blobs/${digest}`);
      assert.equal(res.headers.get("Docker-Content-Digest"), digest);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "blob body");
      // the session is over
      expectError(await c.call("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    },
  );

  uploads(
    "streamed PATCH without Content-Range (stream body, no length) then PUT without body",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(70000, 21);
      const digest = digestOf(bytes);
      // Two streamed PATCHes (Range 0-39999, then 0-69999), then a PUT without body.
      const { patches, put } = await chunkedUpload(c, "a", [
        [bytes.subarray(0, 1000), bytes.subarray(1000, 40000)],
        [bytes.subarray(40000)],
      ]);
      assert.deepEqual(patches.map((p) => p.headers.get("Range")), ["0-39999", "0-69999"]);
      expectStatus(put, 201);
      assert.equal(put.headers.get("Docker-Content-Digest"), digest);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "streamed blob");
    },
  );

  uploads(
    "chunked PATCHes with Content-Range, GET status 204, PUT with the final chunk",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(3000, 22);
      const digest = digestOf(bytes);
      let location = await startUpload(c, "a");
      const one = await c.call("PATCH", location, {
        headers: { "Content-Range": "0-999", "Content-Type": "application/octet-stream" },
        body: bytes.subarray(0, 1000),
      });
      expectStatus(one, 202);
      assert.equal(one.headers.get("Range"), "0-999");
      location = locationOf(one);
      const status = await c.call("GET", location);
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), "0-999");
      assert.ok(locationOf(status).startsWith("/v2/a/blobs/uploads/"));
      const two = await c.call("PATCH", locationOf(status), {
        headers: { "Content-Range": "1000-1999" },
        body: bytes.subarray(1000, 2000),
      });
      expectStatus(two, 202);
      assert.equal(two.headers.get("Range"), "0-1999");
      const put = await c.call("PUT", withQuery(locationOf(two), { digest }), {
        headers: { "Content-Range": "2000-2999" },
        body: bytes.subarray(2000),
      });
      expectStatus(put, 201);
      assert.equal(locationOf(put), `/v2/a/blobs/${digest}`);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "chunked blob");
    },
  );

  uploads("PUT may carry the final chunk without Content-Range", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2000, 23);
    const digest = digestOf(bytes);
    const { put } = await chunkedUpload(c, "a", [bytes.subarray(0, 500)], {
      digest,
      last: bytes.subarray(500),
      lastRange: false,
    });
    expectStatus(put, 201);
    equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "blob");
  });

  uploads(
    "out-of-order chunk recovery: 416 with Range, GET 204 with Range and Location, continue",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(42, 24);
      const digest = digestOf(bytes);
      const chunk1 = bytes.subarray(0, 22);
      const chunk2 = bytes.subarray(22);
      // a second chunk before the first: 416
      const early = await startUpload(c, "a");
      const outOfOrder = await c.call("PATCH", early, {
        headers: { "Content-Range": "22-41", "Content-Type": "application/octet-stream" },
        body: chunk2,
      });
      expectError(outOfOrder, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);

      const first = await startUpload(c, "a");
      const one = await c.call("PATCH", first, {
        headers: { "Content-Range": "0-21" },
        body: chunk1,
      });
      expectStatus(one, 202);
      assert.equal(one.headers.get("Range"), "0-21");
      // retrying chunk 1 on the first Location: 416, and the answer says where the session is
      const retry = await c.call("PATCH", first, {
        headers: { "Content-Range": "0-21" },
        body: chunk1,
      });
      expectError(retry, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
      assert.equal(retry.headers.get("Range"), "0-21", "a 416 on PATCH tells the range received");
      // GET on the (stale) first Location: 204 with Range and a Location to continue from
      const status = await c.call("GET", first);
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), "0-21");
      const two = await c.call("PATCH", locationOf(status), {
        headers: { "Content-Range": "22-41" },
        body: chunk2,
      });
      expectStatus(two, 202);
      assert.equal(two.headers.get("Range"), "0-41");
      const put = await c.call("PUT", withQuery(locationOf(two), { digest }), {
        headers: { "Content-Length": "0" },
      });
      expectStatus(put, 201);
      equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "recovered blob");
    },
  );

  uploads("out-of-order final chunk in PUT is 416 and nothing is stored", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(100, 25);
    const digest = digestOf(bytes);
    const { put } = await chunkedUpload(c, "a", [bytes.subarray(0, 50)], {
      digest,
      last: bytes.subarray(60),
      lastRange: "60-99",
    });
    expectError(put, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
    expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  uploads(
    "a body shorter or longer than its Content-Range is refused and not appended",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      const short = await c.call("PATCH", location, {
        headers: { "Content-Range": "0-9" },
        body: utf8("12345"),
      });
      if (short.status === 416) {
        expectError(short, 416, [
          "RANGE_INVALID",
          "BLOB_UPLOAD_INVALID",
          "SIZE_INVALID",
        ]);
      } else expectError(short, 400, ["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      const long = await c.call("PATCH", location, {
        headers: { "Content-Range": "0-2" },
        body: utf8("12345"),
      });
      if (long.status === 416) {
        expectError(long, 416, [
          "RANGE_INVALID",
          "BLOB_UPLOAD_INVALID",
          "SIZE_INVALID",
        ]);
      } else expectError(long, 400, ["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      // whatever happened, nothing was appended: the session (if it still exists) is empty
      const status = await c.call("GET", location);
      if (status.status === 204) {
        const range = status.headers.get("Range");
        assert.ok(range === null || range === "0-0", `nothing appended, Range ${range}`);
      } else expectError(status, 404, "BLOB_UPLOAD_UNKNOWN");
    },
  );

  uploads(
    "wrong size: a final chunk whose Content-Range disagrees with its body is refused",
    async () => {
      const { c } = await fresh();
      const bytes = utf8("0123456789");
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const put = await c.call("PUT", withQuery(location, { digest }), {
        headers: { "Content-Range": "0-19" },
        body: bytes,
      });
      if (put.status === 416) {
        expectError(put, 416, [
          "RANGE_INVALID",
          "BLOB_UPLOAD_INVALID",
          "SIZE_INVALID",
        ]);
      } else expectError(put, 400, ["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    },
  );

  uploads(
    "a session survives a restart and moves between replicas (same storage, new registries)",
    async () => {
      const storage = await makeStorage();
      const r1 = client(createRegistry({ storage }));
      const r2 = client(createRegistry({ storage }));
      const bytes = randomBytes(9000, 26);
      const digest = digestOf(bytes);
      const location = await startUpload(r1, "a");
      const one = await r1.call("PATCH", location, {
        headers: { "Content-Range": "0-2999" },
        body: bytes.subarray(0, 3000),
      });
      expectStatus(one, 202);
      const status = await r2.call("GET", locationOf(one));
      expectStatus(status, 204);
      assert.equal(status.headers.get("Range"), "0-2999");
      const two = await r2.call("PATCH", locationOf(one), {
        body: streamOf([bytes.subarray(3000, 6000)]),
      });
      expectStatus(two, 202);
      assert.equal(two.headers.get("Range"), "0-5999");
      const three = await r1.call("PATCH", locationOf(two), {
        headers: { "Content-Range": "6000-8999" },
        body: bytes.subarray(6000),
      });
      expectStatus(three, 202);
      const restarted = client(createRegistry({ storage }));
      const put = await restarted.call("PUT", withQuery(locationOf(three), { digest }));
      expectStatus(put, 201);
      equalBytes(
        (await r1.call("GET", `/v2/a/blobs/${digest}`)).body,
        bytes,
        "blob pushed across replicas",
      );
    },
  );

  uploads(
    "two concurrent PATCHes at the same offset: one 202, one 416, and the winner's bytes kept",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      const bodies = [randomBytes(1000, 27), randomBytes(1000, 28)];
      const answers = await Promise.all(
        bodies.map((body) =>
          c.call("PATCH", location, {
            headers: { "Content-Range": "0-999" },
            body: streamOf([body.subarray(0, 500), body.subarray(500)]),
          })
        ),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [202, 416]);
      const winner = bodies[answers.findIndex((a) => a.status === 202)];
      const status = await c.call("GET", location);
      assert.equal(status.headers.get("Range"), "0-999");
      const put = await c.call("PUT", withQuery(location, { digest: digestOf(winner) }));
      expectStatus(put, 201);
    },
  );

  uploads.run();
}
