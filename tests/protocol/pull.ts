/**
 * The protocol suite, pull: the base endpoint, blob GET/HEAD, ranges and conditional requests.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  expectError,
  expectStatus,
  locationOf,
  pushBlob,
  startUpload,
  withQuery,
} from "../support/http.ts";
import {
  digestOf,
  EMPTY_DIGEST,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  randomBytes,
  utf8,
} from "../support/oci.ts";
import { chunkedUpload, equalBytes, type SuiteContext } from "./helpers.ts";

/** Register the tests of pull: the base endpoint, blob GET/HEAD, ranges and conditional requests. */
export function pullTests({ fresh, group }: SuiteContext): void {
  // ───────────────────────────── base ─────────────────────────────
  const base = group("base endpoint");

  base("GET /v2/ answers 200 {} as JSON with the API version header", async () => {
    const { c } = await fresh();
    const res = await c.call("GET", "/v2/");
    expectStatus(res, 200);
    assert.deepEqual(res.json(), {});
    assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
  });

  base("GET /v2 without the trailing slash and HEAD /v2/ answer 200", async () => {
    const { c } = await fresh();
    expectStatus(await c.call("GET", "/v2"), 200);
    expectStatus(await c.call("HEAD", "/v2/"), 200);
  });

  base("a wrong method on /v2/ is 405 UNSUPPORTED", async () => {
    const { c } = await fresh();
    expectError(await c.call("POST", "/v2/"), 405, "UNSUPPORTED");
    expectError(await c.call("DELETE", "/v2/"), 405, "UNSUPPORTED");
  });

  base.run();

  // ───────────────────────────── blobs ─────────────────────────────
  const blobs = group("blob GET/HEAD and ranges");

  blobs(
    "HEAD and GET headers: Content-Length, Docker-Content-Digest, Content-Type, ETag, Accept-Ranges",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(2048, 3);
      const digest = await pushBlob(c, "a", bytes);
      for (const method of ["HEAD", "GET"]) {
        const res = await c.call(method, `/v2/a/blobs/${digest}`);
        expectStatus(res, 200);
        assert.equal(res.headers.get("Content-Length"), "2048", `${method} Content-Length`);
        assert.equal(
          res.headers.get("Docker-Content-Digest"),
          digest,
          `${method} Docker-Content-Digest`,
        );
        assert.equal(
          res.headers.get("Content-Type"),
          "application/octet-stream",
          `${method} Content-Type`,
        );
        assert.equal(res.headers.get("ETag"), `"${digest}"`, `${method} ETag is the quoted digest`);
        assert.equal(res.headers.get("Accept-Ranges"), "bytes", `${method} Accept-Ranges`);
        if (method === "GET") equalBytes(res.body, bytes, "GET body");
      }
    },
  );

  blobs("unknown blob: HEAD 404 without body, GET 404 BLOB_UNKNOWN", async () => {
    const { c } = await fresh();
    await pushBlob(c, "a", utf8("something"));
    const unknown = digestOf(utf8("hello world"));
    expectError(await c.call("HEAD", `/v2/a/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
    expectError(await c.call("GET", `/v2/a/blobs/${unknown}`), 404, "BLOB_UNKNOWN");
    expectError(await c.call("GET", `/v2/nothing/here/blobs/${unknown}`), 404, [
      "BLOB_UNKNOWN",
      "NAME_UNKNOWN",
    ]);
  });

  blobs("the six range cases on a 2048-byte blob", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2048, 11);
    const digest = await pushBlob(c, "a", bytes);
    const partial: [string, number, number][] = [
      ["bytes=500-1499", 500, 1499],
      ["bytes=500-", 500, 2047],
      ["bytes=-500", 1548, 2047],
      ["bytes=2000-5000", 2000, 2047],
    ];
    for (const [range, start, end] of partial) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 206);
      assert.equal(
        res.headers.get("Content-Range"),
        `bytes ${start}-${end}/2048`,
        `${range} Content-Range`,
      );
      assert.equal(
        res.headers.get("Content-Length"),
        String(end - start + 1),
        `${range} Content-Length`,
      );
      equalBytes(res.body, bytes.subarray(start, end + 1), `${range} body`);
    }
    for (const range of ["bytes=500-0", "bytes=5000-10000"]) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 416);
      assert.equal(res.headers.get("Content-Range"), "bytes */2048", `${range} Content-Range`);
    }
  });

  blobs("a zero-length suffix and starts beyond 2^53 are 416 with bytes */size", async () => {
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", randomBytes(2048, 14));
    for (const range of ["bytes=-0", "bytes=99999999999999999999-", "bytes=2048-2048"]) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectError(res, 416, "RANGE_INVALID");
      assert.equal(res.headers.get("Content-Range"), "bytes */2048", `${range} Content-Range`);
    }
  });

  blobs("multi-range and non-byte ranges never fail: 200 whole body or 206", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2048, 12);
    const digest = await pushBlob(c, "a", bytes);
    for (const range of ["bytes=0-1,5-6", "items=0-5", "bytes=abc"]) {
      const res = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 200, 206, 416);
      if (res.status === 200) equalBytes(res.body, bytes, `${range} whole body`);
    }
  });

  blobs("HEAD ignores Range (RFC 9110: ranges are defined for GET only)", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(2048, 13);
    const digest = await pushBlob(c, "a", bytes);
    for (const range of ["bytes=0-9", "bytes=-5", "bytes=5000-10000", "bytes=500-0"]) {
      const res = await c.call("HEAD", `/v2/a/blobs/${digest}`, { headers: { Range: range } });
      expectStatus(res, 200);
      assert.equal(res.headers.get("Content-Length"), "2048", `HEAD ${range}: whole length`);
      assert.equal(res.headers.get("Content-Range"), null, `HEAD ${range}: no Content-Range`);
      assert.equal(res.headers.get("Docker-Content-Digest"), digest);
    }
  });

  blobs("If-None-Match with the ETag answers 304; another ETag answers 200", async () => {
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", utf8("cache me"));
    for (const method of ["GET", "HEAD"]) {
      const hit = await c.call(method, `/v2/a/blobs/${digest}`, {
        headers: { "If-None-Match": `"${digest}"` },
      });
      expectStatus(hit, 304);
      assert.equal(hit.body.length, 0, "304 has no body");
      const miss = await c.call(method, `/v2/a/blobs/${digest}`, {
        headers: { "If-None-Match": `"${digestOf(utf8("other"))}"` },
      });
      expectStatus(miss, 200);
      // If-None-Match compares weakly (RFC 9110 §13.1.2): W/ does not matter; lists and * match.
      for (const value of [`W/"${digest}"`, `"x", W/"${digest}"`, "*"]) {
        const weak = await c.call(method, `/v2/a/blobs/${digest}`, {
          headers: { "If-None-Match": value },
        });
        expectStatus(weak, 304);
      }
    }
  });

  blobs("the empty blob: push, HEAD, GET, range, delete", async () => {
    const { c } = await fresh();
    const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${EMPTY_DIGEST}`, {
      body: new Uint8Array(0),
    });
    expectStatus(res, 201);
    assert.equal(res.headers.get("Docker-Content-Digest"), EMPTY_DIGEST);
    const head = await c.call("HEAD", `/v2/a/blobs/${EMPTY_DIGEST}`);
    expectStatus(head, 200);
    assert.equal(head.headers.get("Content-Length"), "0");
    const get = await c.call("GET", `/v2/a/blobs/${EMPTY_DIGEST}`);
    expectStatus(get, 200);
    assert.equal(get.body.length, 0);
    const range = await c.call("GET", `/v2/a/blobs/${EMPTY_DIGEST}`, {
      headers: { Range: "bytes=0-" },
    });
    expectStatus(range, 416, 200);
    if (range.status === 416) assert.equal(range.headers.get("Content-Range"), "bytes */0");
    // also through POST + PUT with no body
    const location = await startUpload(c, "b");
    const put = await c.call("PUT", withQuery(location, { digest: EMPTY_DIGEST }));
    expectStatus(put, 201);
    expectStatus(await c.call("HEAD", `/v2/b/blobs/${EMPTY_DIGEST}`), 200);
    expectStatus(await c.call("DELETE", `/v2/a/blobs/${EMPTY_DIGEST}`), 202);
    expectError(await c.call("GET", `/v2/a/blobs/${EMPTY_DIGEST}`), 404, "BLOB_UNKNOWN");
    expectStatus(await c.call("HEAD", `/v2/b/blobs/${EMPTY_DIGEST}`), 200);
  });

  blobs("the {} blob: push, HEAD, GET, range, delete", async () => {
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", EMPTY_JSON);
    assert.equal(digest, EMPTY_JSON_DIGEST);
    const head = await c.call("HEAD", `/v2/a/blobs/${digest}`);
    expectStatus(head, 200);
    assert.equal(head.headers.get("Content-Length"), "2");
    const get = await c.call("GET", `/v2/a/blobs/${digest}`);
    assert.equal(get.text, "{}");
    const range = await c.call("GET", `/v2/a/blobs/${digest}`, { headers: { Range: "bytes=1-1" } });
    expectStatus(range, 206);
    assert.equal(range.text, "}");
    assert.equal(range.headers.get("Content-Range"), "bytes 1-1/2");
    expectStatus(await c.call("DELETE", `/v2/a/blobs/${digest}`), 202);
    expectError(await c.call("GET", `/v2/a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
  });

  blobs(
    "sha512 blobs: single POST, sessions with ?digest-algorithm=sha512, GET by sha512",
    async () => {
      const { c } = await fresh();
      const bytes = randomBytes(1000, 5);
      const d512 = digestOf(bytes, "sha512");
      const post = await c.call("POST", `/v2/a/blobs/uploads/?digest=${d512}`, { body: bytes });
      expectStatus(post, 201);
      assert.equal(post.headers.get("Docker-Content-Digest"), d512);
      assert.equal(locationOf(post), `/v2/a/blobs/${d512}`);
      const get = await c.call("GET", `/v2/a/blobs/${d512}`);
      expectStatus(get, 200);
      equalBytes(get.body, bytes, "sha512 blob body");
      assert.equal(get.headers.get("Docker-Content-Digest"), d512);
      const other = randomBytes(3000, 6);
      const o512 = digestOf(other, "sha512");
      const { put } = await chunkedUpload(c, "b", [other.subarray(0, 1500)], {
        query: "?digest-algorithm=sha512",
        digest: o512,
        last: other.subarray(1500),
        headers: { "Content-Type": "application/octet-stream" },
      });
      expectStatus(put, 201);
      assert.equal(put.headers.get("Docker-Content-Digest"), o512);
      const got = await c.call("GET", `/v2/b/blobs/${o512}`, { headers: { Range: "bytes=2990-" } });
      expectStatus(got, 206);
      equalBytes(got.body, other.subarray(2990), "sha512 ranged body");
      // a wrong sha512 digest is refused
      const bad = await c.call(
        "POST",
        `/v2/b/blobs/uploads/?digest=${digestOf(utf8("x"), "sha512")}`,
        {
          body: utf8("y"),
        },
      );
      expectError(bad, 400, "DIGEST_INVALID");
    },
  );

  blobs.run();
}
