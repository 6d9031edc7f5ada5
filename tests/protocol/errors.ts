/**
 * The protocol suite, errors: bad names, digests, methods and paths.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createRegistry } from "../../lib/registry.ts";
import {
  type Answer,
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
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  ociManifest,
  utf8,
} from "../support/oci.ts";
import { equalBytes, pushImage, recording, referrersOf, type SuiteContext } from "./helpers.ts";

/** Register the tests of errors: bad names, digests, methods and paths. */
export function errorTests({ fresh, group }: SuiteContext): void {
  // ───────────────────────────── grammar and routing ─────────────────────────────
  const grammar = group("names, digests, methods and routing");

  const badNames = [
    "Upper",
    "a/B",
    "a..b",
    "a/..b",
    "a//b",
    "-a",
    "a-",
    "a_",
    "a___b",
    "a._b",
    "a/",
    "a%20b",
    "ünïcode",
    `${"a".repeat(200)}/${"b".repeat(56)}`,
  ];

  grammar(
    "invalid names are 400 NAME_INVALID on every endpoint, before storage is touched",
    async () => {
      const { storage: inner } = await fresh();
      const { storage, calls } = recording(inner);
      const c = client(createRegistry({ storage }));
      const digest = digestOf(utf8("x"));
      for (const name of badNames) {
        const requests: [string, string, Record<string, string>, Uint8Array | undefined][] = [
          ["GET", `/v2/${name}/tags/list`, {}, undefined],
          ["GET", `/v2/${name}/manifests/latest`, {}, undefined],
          ["HEAD", `/v2/${name}/manifests/${digest}`, {}, undefined],
          ["PUT", `/v2/${name}/manifests/latest`, { "Content-Type": OCI_MANIFEST }, utf8("{}")],
          ["DELETE", `/v2/${name}/manifests/latest`, {}, undefined],
          ["GET", `/v2/${name}/blobs/${digest}`, {}, undefined],
          ["HEAD", `/v2/${name}/blobs/${digest}`, {}, undefined],
          ["DELETE", `/v2/${name}/blobs/${digest}`, {}, undefined],
          ["POST", `/v2/${name}/blobs/uploads/`, {}, undefined],
          ["GET", `/v2/${name}/blobs/uploads/someid0123456789abc`, {}, undefined],
          ["PATCH", `/v2/${name}/blobs/uploads/someid0123456789abc`, {}, utf8("x")],
          ["GET", `/v2/${name}/referrers/${digest}`, {}, undefined],
        ];
        for (const [method, path, headers, body] of requests) {
          const res = await c.call(method, path, { headers, body });
          expectError(res, 400, "NAME_INVALID");
        }
      }
      assert.deepEqual(calls, [], "no storage call for an invalid name");
    },
  );

  grammar(
    "percent-encoded traversal (%2e%2e, %2F, %00) in names, ids, tags and digests never reaches storage",
    async () => {
      const { storage: inner } = await fresh();
      const { storage, calls } = recording(inner);
      const c = client(createRegistry({ storage }));
      const digest = digestOf(utf8("x"));
      // A whole `%2e%2e` segment is a `..` the URL standard resolves before routing; encoded
      // slashes and dots inside a segment reach the handler, are decoded, then fail the grammar.
      const cases: [string, string, number, string][] = [
        ["GET", `/v2/a%2F..%2Fb/blobs/${digest}`, 400, "NAME_INVALID"],
        ["GET", `/v2/a%2F%2e%2e%2Fb/tags/list`, 400, "NAME_INVALID"],
        ["POST", "/v2/..%2Fetc/blobs/uploads/", 400, "NAME_INVALID"],
        ["GET", `/v2/a%00b/manifests/latest`, 400, "NAME_INVALID"],
        ["GET", `/v2/a%zz/tags/list`, 400, "NAME_INVALID"],
        ["GET", "/v2/a/blobs/uploads/..%2F..%2Fetc", 404, "BLOB_UPLOAD_UNKNOWN"],
        ["PATCH", "/v2/a/blobs/uploads/%2e%2e%2Fx", 404, "BLOB_UPLOAD_UNKNOWN"],
        ["DELETE", "/v2/a/blobs/uploads/a%2Fb", 404, "BLOB_UPLOAD_UNKNOWN"],
        ["GET", "/v2/a/manifests/..%2F..%2Fx", 404, "MANIFEST_UNKNOWN"],
        ["PUT", "/v2/a/manifests/..%2F..%2Fx", 400, "TAG_INVALID"],
        ["GET", "/v2/a/blobs/sha256%3A..%2F..%2Fx", 400, "DIGEST_INVALID"],
        ["GET", "/v2/a/referrers/sha256:%2e%2e", 400, "DIGEST_INVALID"],
      ];
      for (const [method, path, status, code] of cases) {
        const body = method === "PUT" || method === "PATCH" ? utf8("{}") : undefined;
        const headers: Record<string, string> = method === "PUT"
          ? { "Content-Type": OCI_MANIFEST }
          : {};
        expectError(await c.call(method, path, { body, headers }), status, code);
      }
      assert.deepEqual(calls, [], "no storage call for any of them");
      // An encoded slash between valid components is the same repository as a plain one.
      const bytes = utf8("encoded");
      const pushed = await pushBlob(c, "a/b", bytes);
      const res = await c.call("GET", `/v2/a%2Fb/blobs/${pushed}`);
      expectStatus(res, 200);
      equalBytes(res.body, bytes, "a%2Fb is a/b");
    },
  );

  grammar(
    "valid unusual names work: a__b, a--b, a.b, 0, deep paths of 200 characters",
    async () => {
      const { c } = await fresh();
      for (
        const name of [
          "a__b",
          "a--b",
          "a.b-c_d",
          "0",
          "x/y/z/w",
          `${"a".repeat(99)}/${"b".repeat(100)}`,
        ]
      ) {
        await pushImage(c, name, `valid-${name}`, "v1");
        const res = await c.call("GET", `/v2/${name}/tags/list`);
        expectStatus(res, 200);
        assert.equal((res.json() as { name: string }).name, name);
      }
    },
  );

  grammar(
    "repositories named manifests, blobs, tags, a/b/c, x/blobs/uploads, referrers/manifests",
    async () => {
      const { c } = await fresh();
      for (
        const name of [
          "manifests",
          "blobs",
          "tags",
          "uploads",
          "a/b/c",
          "x/blobs/uploads",
          "referrers/manifests",
        ]
      ) {
        const bytes = utf8(`layer of ${name}`);
        const digest = digestOf(bytes);
        const location = await startUpload(c, name);
        assert.ok(location.startsWith(`/v2/${name}/blobs/uploads/`), `${name}: ${location}`);
        const patch = await c.call("PATCH", location, { body: bytes });
        expectStatus(patch, 202);
        const status = await c.call("GET", locationOf(patch));
        expectStatus(status, 204);
        expectStatus(await c.call("PUT", withQuery(locationOf(status), { digest })), 201);
        const head = await c.call("HEAD", `/v2/${name}/blobs/${digest}`);
        expectStatus(head, 200);
        const config = configBlob(name);
        await pushBlob(c, name, config);
        const m = ociManifest({
          config: describe(OCI_CONFIG, config),
          layers: [describe(OCI_LAYER, bytes)],
        });
        await pushManifest(c, name, m, "latest");
        const get = await c.call("GET", `/v2/${name}/manifests/latest`);
        expectStatus(get, 200);
        equalBytes(get.body, m.bytes, `${name} manifest`);
        const tags = await c.call("GET", `/v2/${name}/tags/list`);
        assert.deepEqual(tags.json(), { name, tags: ["latest"] });
        const refs = await referrersOf(c, name, m.digest);
        assert.equal(refs.index.manifests.length, 0);
        expectStatus(await c.call("DELETE", `/v2/${name}/manifests/latest`), 202);
      }
      const catalog = await c.call("GET", "/v2/_catalog");
      const repositories = (catalog.json() as { repositories: string[] }).repositories;
      for (const name of ["manifests", "blobs", "a/b/c", "x/blobs/uploads"]) {
        assert.ok(repositories.includes(name), `catalog lists ${name}`);
      }
    },
  );

  const badDigests = [
    "sha256:totallywrong",
    `sha256:${"a".repeat(63)}`,
    `sha256:${"A".repeat(64)}`,
    `sha256:${"a".repeat(65)}`,
    `sha512:${"a".repeat(64)}`,
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha256:",
    `sha256:${"g".repeat(64)}`,
  ];

  grammar("malformed digests are 400 DIGEST_INVALID everywhere, never 404 or 500", async () => {
    const { c } = await fresh();
    const image = await pushImage(c, "a", "digests", "v1");
    const location = await startUpload(c, "a");
    for (const d of [...badDigests, "nocolon"]) {
      expectError(await c.call("GET", `/v2/a/blobs/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("HEAD", `/v2/a/blobs/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("DELETE", `/v2/a/blobs/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("GET", `/v2/a/referrers/${d}`), 400, "DIGEST_INVALID");
      const q = encodeURIComponent(d);
      expectError(
        await c.call("POST", `/v2/a/blobs/uploads/?digest=${q}`, { body: utf8("x") }),
        400,
        "DIGEST_INVALID",
      );
      expectError(
        await c.call("PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${q}`, {
          body: utf8("x"),
        }),
        400,
        "DIGEST_INVALID",
      );
    }
    for (const d of badDigests) {
      expectError(await c.call("GET", `/v2/a/manifests/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("HEAD", `/v2/a/manifests/${d}`), 400, "DIGEST_INVALID");
      expectError(await c.call("DELETE", `/v2/a/manifests/${d}`), 400, "DIGEST_INVALID");
      expectError(await putManifest(c, "a", image.manifest, d), 400, "DIGEST_INVALID");
    }
    // the session survived all of that
    const bytes = utf8("still fine");
    expectStatus(
      await c.call("PUT", withQuery(location, { digest: digestOf(bytes) }), { body: bytes }),
      201,
    );
  });

  grammar("a known path with a wrong method is 405 UNSUPPORTED", async () => {
    const { c } = await fresh();
    const image = await pushImage(c, "a", "methods", "v1");
    const digest = digestOf(image.config);
    const cases: [string, string][] = [
      ["PATCH", "/v2/a/manifests/v1"],
      ["POST", "/v2/a/manifests/v1"],
      ["POST", `/v2/a/blobs/${digest}`],
      ["PUT", `/v2/a/blobs/${digest}`],
      ["PATCH", `/v2/a/blobs/${digest}`],
      ["PUT", "/v2/a/tags/list"],
      ["DELETE", "/v2/a/tags/list"],
      ["POST", "/v2/_catalog"],
      ["DELETE", `/v2/a/referrers/${image.manifest.digest}`],
      ["GET", "/v2/a/blobs/uploads/"],
      ["POST", "/v2/a/blobs/uploads/abcdefabcdefabcdef"],
    ];
    for (const [method, path] of cases) expectError(await c.call(method, path), 405, "UNSUPPORTED");
  });

  grammar("a 405 answers Allow with the methods the endpoint serves (RFC 9110)", async () => {
    const allowOf = (res: Answer) =>
      (res.headers.get("Allow") ?? "").split(",").map((m) => m.trim()).filter(Boolean).sort();
    const { c } = await fresh();
    const digest = await pushBlob(c, "a", utf8("allow"));
    const session = await startUpload(c, "a");
    const cases: [string, string, string[]][] = [
      ["POST", "/v2/", ["GET", "HEAD"]],
      ["PATCH", "/v2/a/manifests/v1", ["DELETE", "GET", "HEAD", "PUT"]],
      ["PUT", `/v2/a/blobs/${digest}`, ["DELETE", "GET", "HEAD"]],
      ["DELETE", "/v2/a/tags/list", ["GET", "HEAD"]],
      ["POST", "/v2/_catalog", ["GET", "HEAD"]],
      ["DELETE", `/v2/a/referrers/${digest}`, ["GET", "HEAD"]],
      ["GET", "/v2/a/blobs/uploads/", ["POST"]],
      ["POST", session, ["DELETE", "GET", "HEAD", "PATCH", "PUT"]],
    ];
    for (const [method, path, methods] of cases) {
      const res = await c.call(method, path);
      expectError(res, 405, "UNSUPPORTED");
      assert.deepEqual(allowOf(res), methods, `${method} ${path}: Allow`);
    }
    // Switched-off writes are not offered either.
    const noDelete = await fresh({ deletion: false });
    await pushBlob(noDelete.c, "a", utf8("allow"));
    const off = await noDelete.c.call("DELETE", `/v2/a/blobs/${digest}`);
    expectError(off, 405, "UNSUPPORTED");
    assert.deepEqual(allowOf(off), ["GET", "HEAD"], "deletion: false → Allow: GET, HEAD");
    const readOnly = await fresh({ readOnly: true });
    const ro = await readOnly.c.call("PUT", "/v2/a/manifests/v1", { body: utf8("{}") });
    expectError(ro, 405, "UNSUPPORTED");
    assert.deepEqual(allowOf(ro), ["GET", "HEAD"], "readOnly → Allow: GET, HEAD");
  });

  grammar("unknown paths are 404 with a JSON error", async () => {
    const { c } = await fresh();
    for (const path of ["/v2/a/unknown", "/v2/a/tags", "/v2/a/blobs", "/other"]) {
      const res = await c.call("GET", path);
      expectStatus(res, 404);
      assert.ok(
        Array.isArray((res.json() as { errors: unknown[] }).errors),
        `${path}: JSON errors`,
      );
    }
  });

  grammar("unknown query parameters are ignored (?ns=example.com)", async () => {
    const { c } = await fresh();
    const { manifest, config } = await pushImage(c, "a", "ns", "v1");
    const ns = "ns=example.com";
    expectStatus(await c.call("GET", `/v2/?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/manifests/v1?${ns}`), 200);
    expectStatus(await c.call("HEAD", `/v2/a/manifests/${manifest.digest}?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/blobs/${digestOf(config)}?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/tags/list?${ns}`), 200);
    expectStatus(await c.call("GET", `/v2/a/referrers/${manifest.digest}?${ns}`), 200);
    const start = await c.call("POST", `/v2/a/blobs/uploads/?${ns}`);
    expectStatus(start, 202);
    const bytes = utf8("with ns");
    const put = await c.call(
      "PUT",
      withQuery(locationOf(start), { digest: digestOf(bytes), ns: "example.com" }),
      {
        body: bytes,
      },
    );
    expectStatus(put, 201);
    expectStatus(
      await c.call("PUT", `/v2/a/manifests/v2?${ns}`, {
        headers: { "Content-Type": OCI_MANIFEST },
        body: manifest.bytes,
      }),
      201,
    );
  });

  grammar.run();
}
