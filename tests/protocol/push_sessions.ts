/**
 * The protocol suite, push: upload sessions under failure and concurrency, single POST, cancel.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createRegistry } from "../../lib/registry.ts";
import type { FullStorage } from "../../lib/storage/types.ts";
import {
  client,
  expectError,
  expectStatus,
  locationOf,
  startUpload,
  streamOf,
  withQuery,
} from "../support/http.ts";
import { digestOf, randomBytes, utf8 } from "../support/oci.ts";
import { chunkedUpload, equalBytes, expectUnknownSession, type SuiteContext } from "./helpers.ts";

/** Register the tests of push: upload sessions under failure and concurrency, single POST, cancel. */
export function sessionTests({ fresh, group, makeStorage }: SuiteContext): void {
  const uploads = group("uploads");

  uploads("a PATCH whose body fails midway appends nothing; the session continues", async () => {
    const { c } = await fresh({ logger: { error: () => {} } });
    const bytes = randomBytes(2000, 29);
    const location = await startUpload(c, "a");
    const one = await c.call("PATCH", location, {
      headers: { "Content-Range": "0-999" },
      body: bytes.subarray(0, 1000),
    });
    expectStatus(one, 202);
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(bytes.subarray(1000, 1500));
        } else controller.error(new Error("client went away"));
      },
    });
    let failed = false;
    try {
      const res = await c.call("PATCH", locationOf(one), { body: broken });
      assert.ok(res.status >= 400, `a broken body is not accepted: ${res.status}`);
      failed = true;
    } catch {
      failed = true; // the runtime may surface the body error to the caller instead
    }
    assert.ok(failed);
    const status = await c.call("GET", locationOf(one));
    expectStatus(status, 204);
    assert.equal(status.headers.get("Range"), "0-999", "nothing of the broken PATCH was appended");
    const two = await c.call("PATCH", locationOf(status), {
      headers: { "Content-Range": "1000-1999" },
      body: bytes.subarray(1000),
    });
    expectStatus(two, 202);
    expectStatus(await c.call("PUT", withQuery(locationOf(two), { digest: digestOf(bytes) })), 201);
  });

  uploads(
    "a 12 MiB blob in uneven chunks (crossing 5 MiB part boundaries) reads back whole and in ranges",
    async () => {
      const { c } = await fresh();
      const size = 12 * 1024 * 1024 + 17;
      const bytes = randomBytes(size, 30);
      const digest = digestOf(bytes);
      const cuts = [0, 3_000_001, 6_500_000, 6_500_001, 11_000_000, size];
      const chunks = cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end));
      // Each PATCH: 202 with Range 0-<cut - 1>.
      const { patches, put } = await chunkedUpload(c, "big", chunks, { digest });
      assert.deepEqual(
        patches.map((p) => p.headers.get("Range")),
        cuts.slice(1).map((end) => `0-${end - 1}`),
      );
      expectStatus(put, 201);
      const head = await c.call("HEAD", `/v2/big/blobs/${digest}`);
      assert.equal(head.headers.get("Content-Length"), String(size));
      const part = 5 * 1024 * 1024;
      for (
        const [start, end] of [[part - 10, part + 10], [2 * part - 1, 2 * part], [
          size - 20,
          size - 1,
        ]]
      ) {
        const res = await c.call("GET", `/v2/big/blobs/${digest}`, {
          headers: { Range: `bytes=${start}-${end}` },
        });
        expectStatus(res, 206);
        equalBytes(res.body, bytes.subarray(start, end + 1), `range ${start}-${end}`);
      }
      const whole = await c.call("GET", `/v2/big/blobs/${digest}`);
      expectStatus(whole, 200);
      assert.equal(digestOf(whole.body), digest, "whole body digest");
    },
  );

  uploads("single POST with ?digest= and a streamed body (no length)", async () => {
    const { c } = await fresh();
    const bytes = randomBytes(100_000, 32);
    const digest = digestOf(bytes);
    const res = await c.call("POST", `/v2/a/blobs/uploads/?digest=${digest}`, {
      body: streamOf([bytes.subarray(0, 10), bytes.subarray(10, 60_000), bytes.subarray(60_000)]),
    });
    expectStatus(res, 201);
    equalBytes((await c.call("GET", `/v2/a/blobs/${digest}`)).body, bytes, "streamed single POST");
  });

  uploads("an unsupported ?digest-algorithm= is 400 DIGEST_INVALID", async () => {
    const { c } = await fresh();
    for (const algorithm of ["md5", "sha384", "SHA256", "blake3"]) {
      const res = await c.call("POST", `/v2/a/blobs/uploads/?digest-algorithm=${algorithm}`);
      expectError(res, 400, "DIGEST_INVALID");
    }
  });

  uploads(
    "a malformed Content-Range on PATCH is refused (400 BLOB_UPLOAD_INVALID or 416)",
    async () => {
      const { c } = await fresh();
      const location = await startUpload(c, "a");
      for (const range of ["abc", "5-3", "0-", "-4"]) {
        const res = await c.call("PATCH", location, {
          headers: { "Content-Range": range },
          body: utf8("12345"),
        });
        if (res.status === 416) expectError(res, 416, ["RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
        else expectError(res, 400, ["BLOB_UPLOAD_INVALID", "RANGE_INVALID"]);
      }
      const status = await c.call("GET", location);
      expectStatus(status, 204);
      const range = status.headers.get("Range");
      assert.ok(range === null || range === "0-0", `nothing appended, Range ${range}`);
    },
  );

  uploads("PUT without ?digest= is 400 DIGEST_INVALID", async () => {
    const { c } = await fresh();
    const location = await startUpload(c, "a");
    expectError(await c.call("PUT", location, { body: utf8("abc") }), 400, "DIGEST_INVALID");
  });

  uploads(
    "a session used under another repository name is BLOB_UPLOAD_UNKNOWN, and survives",
    async () => {
      const { c } = await fresh();
      const bytes = utf8("belongs to a");
      const digest = digestOf(bytes);
      const location = await startUpload(c, "a");
      const elsewhere = location.replace(/^\/v2\/a\//, "/v2/b/");
      assert.notEqual(elsewhere, location);
      await expectUnknownSession(c, elsewhere, bytes);
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
      // still usable in a
      const put = await c.call("PUT", withQuery(location, { digest }), { body: bytes });
      expectStatus(put, 201);
      expectError(await c.call("GET", `/v2/b/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    },
  );

  uploads(
    "unknown session ids are 404 BLOB_UPLOAD_UNKNOWN on GET, PATCH, PUT, DELETE",
    async () => {
      const { c } = await fresh();
      const path = "/v2/a/blobs/uploads/doesnotexist0123456789";
      await expectUnknownSession(c, path, utf8("x"));
    },
  );

  /** A request body that sends `first`, then holds until `release(rest)`. */
  function heldBody(first: Uint8Array) {
    let release!: (rest: Uint8Array) => void;
    const rest = new Promise<Uint8Array>((resolve) => release = resolve);
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(first);
          return;
        }
        const last = await rest;
        if (last.byteLength > 0) controller.enqueue(last);
        controller.close();
      },
    });
    return { stream, release };
  }

  /** A promise and the function that resolves it. */
  function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((r) => resolve = r);
    return { promise, resolve };
  }

  /**
   * `inner` with hooks: `append` is told when an append starts, `commit` is awaited before a
   * commit runs.
   */
  function hooked(
    inner: FullStorage,
    hooks: { append?: () => void; commit?: () => Promise<unknown> },
  ): FullStorage {
    const uploads = new Proxy(inner.uploads, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        const call = (args: unknown[]) =>
          (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (key === "append" && hooks.append) {
          return (...args: unknown[]) => {
            hooks.append!();
            return call(args);
          };
        }
        if (key === "commit" && hooks.commit) {
          return async (...args: unknown[]) => {
            await hooks.commit!();
            return await call(args);
          };
        }
        return (...args: unknown[]) => call(args);
      },
    });
    return {
      blobs: inner.blobs,
      uploads,
      manifests: inner.manifests,
      tags: inner.tags,
      repositories: (options) => inner.repositories(options),
    };
  }

  uploads(
    "a PUT while a PATCH of the same session streams is 416; the PATCH's bytes are all committed",
    async () => {
      let appending = signal();
      const storage = hooked(await makeStorage(), { append: () => appending.resolve() });
      const c = client(createRegistry({ storage }));
      const head = randomBytes(3000, 61);
      const tail = randomBytes(5000, 62);
      const bytes = new Uint8Array([...utf8("0123456789"), ...head, ...tail]);
      const location = await startUpload(c, "a");
      const first = await c.call("PATCH", location, { body: utf8("0123456789") });
      expectStatus(first, 202);
      appending = signal();
      const held = heldBody(head);
      const patching = c.call("PATCH", locationOf(first), { body: held.stream });
      await appending.promise;
      const early = await c.call("PUT", withQuery(locationOf(first), { digest: digestOf(bytes) }));
      expectError(early, 416, "RANGE_INVALID");
      assert.equal(early.headers.get("Range"), "0-9", "416 tells the bytes received so far");
      held.release(tail);
      const patched = await patching;
      expectStatus(patched, 202);
      assert.equal(patched.headers.get("Range"), `0-${bytes.byteLength - 1}`);
      const put = await c.call("PUT", withQuery(locationOf(patched), { digest: digestOf(bytes) }));
      expectStatus(put, 201);
      const got = await c.call("GET", `/v2/a/blobs/${digestOf(bytes)}`);
      equalBytes(got.body, bytes, "committed blob");
    },
  );

  uploads(
    "a PATCH while the PUT of the same session streams its last chunk is 416; the PUT commits",
    async () => {
      const appending = signal();
      const storage = hooked(await makeStorage(), { append: () => appending.resolve() });
      const c = client(createRegistry({ storage }));
      const head = randomBytes(4000, 63);
      const tail = randomBytes(4000, 64);
      const bytes = new Uint8Array([...head, ...tail]);
      const location = await startUpload(c, "a");
      const held = heldBody(head);
      const putting = c.call("PUT", withQuery(location, { digest: digestOf(bytes) }), {
        body: held.stream,
      });
      await appending.promise;
      const late = await c.call("PATCH", location, { body: utf8("intruder") });
      expectError(late, 416, "RANGE_INVALID");
      held.release(tail);
      expectStatus(await putting, 201);
      const got = await c.call("GET", `/v2/a/blobs/${digestOf(bytes)}`);
      equalBytes(got.body, bytes, "committed blob holds exactly the verified bytes");
    },
  );

  uploads(
    "bytes appended by another process between the digest check and the commit: never a 201",
    async () => {
      const inner = await makeStorage();
      // The commit waits until another registry over the same storage (another process, which
      // this one's per-session guard cannot see) has appended to the session.
      const committing = signal();
      const appended = signal<unknown>();
      const storage = hooked(inner, {
        commit: () => {
          committing.resolve();
          return appended.promise;
        },
      });
      const logged: string[] = [];
      const logger = { error: (error: unknown) => logged.push(String(error)) };
      const one = client(createRegistry({ storage, logger }));
      const two = client(createRegistry({ storage: inner, logger }));
      const bytes = randomBytes(6000, 65);
      const location = await startUpload(one, "a");
      expectStatus(await one.call("PATCH", location, { body: bytes }), 202);
      const putting = one.call("PUT", withQuery(location, { digest: digestOf(bytes) }));
      await committing.promise;
      const extra = await two.call("PATCH", location, {
        headers: { "Content-Range": "6000-6001" },
        body: utf8("!!"),
      });
      appended.resolve(extra);
      const put = await putting;
      assert.notEqual(put.status, 201, "a commit of other bytes than the verified ones is no 201");
      expectStatus(put, 416, 500);
      const got = await one.call("GET", `/v2/a/blobs/${digestOf(bytes)}`);
      if (got.status === 200) {
        equalBytes(got.body, bytes, "a visible blob holds the verified bytes");
      } else expectError(got, 404, "BLOB_UNKNOWN");
      if (put.status === 500) assert.match(logged.join("\n"), /verified 6000/);
    },
  );

  uploads("cancel: DELETE on the session answers 204, then the session is 404", async () => {
    const { c } = await fresh();
    const location = await startUpload(c, "a");
    const one = await c.call("PATCH", location, { body: utf8("some bytes") });
    expectStatus(one, 202);
    const del = await c.call("DELETE", locationOf(one));
    expectStatus(del, 204);
    expectError(await c.call("GET", locationOf(one)), 404, "BLOB_UPLOAD_UNKNOWN");
    expectError(
      await c.call("PATCH", locationOf(one), { body: utf8("more") }),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
    expectError(
      await c.call("PUT", withQuery(locationOf(one), { digest: digestOf(utf8("some bytes")) })),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
    expectError(
      await c.call("GET", `/v2/a/blobs/${digestOf(utf8("some bytes"))}`),
      404,
      "BLOB_UNKNOWN",
    );
  });

  uploads.run();
}
