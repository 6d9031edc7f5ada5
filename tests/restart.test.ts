/**
 * Restart: a server on fs storage is stopped (`close()`) in the middle of an upload, a new one
 * (a new registry and a new adapter, so every hash state kept in memory is gone) starts on the same
 * root, and the client carries on: GET the session (204 with Range), PATCH the rest, PUT, and the
 * blob verifies against a digest computed again from storage; GET returns the bytes. Also: a
 * sha512 session, several restarts in a row, a PUT carrying the last chunk, a wrong digest after a
 * restart, a PATCH cut by a bounded close, and two servers on one root at once.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { detectRuntime } from "../lib/server/serve.ts";
import { type StartedRegistry, startRegistry } from "../lib/server/start.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { digestOf } from "../lib/testing/content.ts";

const RUNTIME = detectRuntime();
const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes: a sha256 counter stream from `seed`. */
function seededBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0, at = 0; at < size; i++, at += 32) {
    const block = createHash("sha256").update(`${seed}:${i}`).digest();
    out.set(block.subarray(0, Math.min(32, size - at)), at);
  }
  return out;
}

/** A fully read answer. */
interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
}

/** One request to `server`, whole answer. */
async function call(
  server: StartedRegistry,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Uint8Array | ReadableStream<Uint8Array> } = {},
): Promise<Answer> {
  const options: RequestInit & { duplex?: string } = { method, headers: init.headers };
  if (init.body !== undefined) {
    options.body = init.body as BodyInit;
    if (init.body instanceof ReadableStream) options.duplex = "half";
  }
  const res = await fetch(server.url + path, options);
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: new TextDecoder().decode(body) };
}

function expect(res: Answer, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text}`);
}

/** The path and query of a response's Location. */
function location(res: Answer): string {
  const value = res.headers.get("Location");
  assert.ok(value, "a Location header");
  const url = new URL(value, "http://registry.invalid");
  return url.pathname + url.search;
}

function withDigest(path: string, digest: string): string {
  return `${path}${path.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`;
}

/** A stream yielding `bytes` in `chunk`-sized pieces (sent with no Content-Length). */
function streamOf(bytes: Uint8Array, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

/** PATCH a chunk with Content-Range; asserts 202 and the new Range; answers the next location. */
async function patchChunk(
  server: StartedRegistry,
  path: string,
  bytes: Uint8Array,
  start: number,
  end: number,
): Promise<string> {
  const res = await call(server, "PATCH", path, {
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Range": `${start}-${end - 1}`,
      "Content-Length": String(end - start),
    },
    body: bytes.slice(start, end),
  });
  expect(res, 202, `PATCH ${start}-${end - 1}`);
  assert.equal(res.headers.get("Range"), `0-${end - 1}`);
  return location(res);
}

/** GET the session: 204 with `Range: 0-<size-1>`; answers the location it gives. */
async function status(server: StartedRegistry, path: string, size: number): Promise<string> {
  const res = await call(server, "GET", path);
  expect(res, 204, "GET session");
  assert.equal(res.headers.get("Range"), `0-${Math.max(0, size - 1)}`, "Range after restart");
  assert.ok(res.headers.get("Docker-Upload-UUID"), "Docker-Upload-UUID");
  return location(res);
}

/** The blob is served whole and right in `repo`. */
async function assertBlob(
  server: StartedRegistry,
  repo: string,
  digest: string,
  bytes: Uint8Array,
): Promise<void> {
  const head = await call(server, "HEAD", `/v2/${repo}/blobs/${digest}`);
  expect(head, 200, "HEAD blob");
  assert.equal(head.headers.get("Content-Length"), String(bytes.length));
  assert.equal(head.headers.get("Docker-Content-Digest"), digest);
  const got = await call(server, "GET", `/v2/${repo}/blobs/${digest}`);
  expect(got, 200, "GET blob");
  assert.equal(got.body.length, bytes.length, "blob size");
  assert.equal(digestOf(got.body), digestOf(bytes), "blob bytes");
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${what}: not done within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

let root = "";
const running = new Set<StartedRegistry>();

/** A new server with a new registry and a new fs adapter on the shared root. */
async function start(): Promise<StartedRegistry> {
  const server = await startRegistry({ port: 0, storage: fsStorage({ root }) });
  running.add(server);
  return server;
}

async function stop(server: StartedRegistry, timeoutMs?: number): Promise<void> {
  await within(15_000, server.close({ timeoutMs }), "close()");
  running.delete(server);
}

const test = suite(`restart (${RUNTIME})`);

test.before(() => {
  root = mkdtempSync(join(tmpdir(), "fetch-registry-restart-"));
});

test.after(async () => {
  for (const server of running) await server.close({ timeoutMs: 1000 }).catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

test("stop after some PATCHes, start again: GET status, PATCH the rest, PUT; the blob verifies", async () => {
  const bytes = seededBytes(5 * MiB + 333, 1);
  const digest = digestOf(bytes);
  const cuts = [0, 1 * MiB, 2 * MiB + 17, 3 * MiB, 4 * MiB + 5, bytes.length];
  let server = await start();
  const post = await call(server, "POST", "/v2/restart/one/blobs/uploads/");
  expect(post, 202, "POST");
  let path = location(post);
  for (let i = 0; i < 3; i++) path = await patchChunk(server, path, bytes, cuts[i], cuts[i + 1]);
  const oldPort = server.port;
  await stop(server);
  const refused = await fetch(`http://127.0.0.1:${oldPort}/v2/`).then(
    (r) => r.status,
    () => "refused",
  );
  assert.equal(refused, "refused", "the old server no longer answers");

  server = await start();
  path = await status(server, path, cuts[3]);
  // An out-of-order chunk is still refused after the restart, with the true Range.
  const wrong = await call(server, "PATCH", path, {
    headers: { "Content-Range": `${cuts[2]}-${cuts[3] - 1}` },
    body: bytes.slice(cuts[2], cuts[3]),
  });
  expect(wrong, 416, "a chunk at an old offset");
  assert.equal(wrong.headers.get("Range"), `0-${cuts[3] - 1}`);
  for (let i = 3; i < 5; i++) path = await patchChunk(server, path, bytes, cuts[i], cuts[i + 1]);
  const put = await call(server, "PUT", withDigest(path, digest));
  expect(put, 201, "PUT");
  assert.equal(put.headers.get("Docker-Content-Digest"), digest);
  await assertBlob(server, "restart/one", digest, bytes);
  // The session is over, and nothing of it is left on disk.
  expect(await call(server, "GET", path), 404, "GET the finished session");
  assert.deepEqual(readdirSync(join(root, "uploads")), [], "no session directory left");
  await stop(server);
  // And the blob is still there for the next server.
  server = await start();
  await assertBlob(server, "restart/one", digest, bytes);
  await stop(server);
});

test("streamed PATCH before the restart; PUT with the last chunk after it", async () => {
  const bytes = seededBytes(3 * MiB + 1001, 2);
  const digest = digestOf(bytes);
  const first = 2 * MiB + 99;
  let server = await start();
  const post = await call(server, "POST", "/v2/restart/streamed/blobs/uploads");
  expect(post, 202, "POST");
  const patch = await call(server, "PATCH", location(post), {
    headers: { "Content-Type": "application/octet-stream" },
    body: streamOf(bytes.subarray(0, first)),
  });
  expect(patch, 202, "streamed PATCH");
  assert.equal(patch.headers.get("Range"), `0-${first - 1}`);
  await stop(server);

  server = await start();
  const path = await status(server, location(patch), first);
  const put = await call(server, "PUT", withDigest(path, digest), {
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Range": `${first}-${bytes.length - 1}`,
      "Content-Length": String(bytes.length - first),
    },
    body: bytes.slice(first),
  });
  expect(put, 201, "PUT with the last chunk");
  await assertBlob(server, "restart/streamed", digest, bytes);
  await stop(server);
});

test("a sha512 session survives two restarts and verifies with sha512", async () => {
  const bytes = seededBytes(2 * MiB + 5, 3);
  const digest = digestOf(bytes, "sha512");
  const cuts = [0, 700_000, 1_400_000, bytes.length];
  let server = await start();
  const post = await call(
    server,
    "POST",
    "/v2/restart/sha512/blobs/uploads/?digest-algorithm=sha512",
  );
  expect(post, 202, "POST sha512");
  let path = location(post);
  for (let i = 0; i < 3; i++) {
    if (i > 0) {
      await stop(server);
      server = await start();
      path = await status(server, path, cuts[i]);
    }
    path = await patchChunk(server, path, bytes, cuts[i], cuts[i + 1]);
  }
  await stop(server);
  server = await start();
  path = await status(server, path, bytes.length);
  const put = await call(server, "PUT", withDigest(path, digest));
  expect(put, 201, "PUT sha512");
  assert.equal(put.headers.get("Docker-Content-Digest"), digest);
  await assertBlob(server, "restart/sha512", digest, bytes);
  await stop(server);
});

test("an empty session survives a restart; a wrong digest after a restart stores nothing", async () => {
  let server = await start();
  const empty = await call(server, "POST", "/v2/restart/wrong/blobs/uploads/");
  expect(empty, 202, "POST");
  const bytes = seededBytes(1 * MiB, 4);
  const post = await call(server, "POST", "/v2/restart/wrong/blobs/uploads/");
  const path = await patchChunk(server, location(post), bytes, 0, bytes.length);
  await stop(server);

  server = await start();
  const emptyPath = await status(server, location(empty), 0);
  const emptyDigest = digestOf(new Uint8Array(0));
  expect(await call(server, "PUT", withDigest(emptyPath, emptyDigest)), 201, "PUT empty blob");
  await assertBlob(server, "restart/wrong", emptyDigest, new Uint8Array(0));

  const other = digestOf(seededBytes(1 * MiB, 5));
  const put = await call(
    server,
    "PUT",
    withDigest(await status(server, path, bytes.length), other),
  );
  expect(put, 400, "PUT with a digest the bytes do not have");
  assert.equal(JSON.parse(put.text).errors[0].code, "DIGEST_INVALID");
  for (const d of [other, digestOf(bytes)]) {
    expect(await call(server, "HEAD", `/v2/restart/wrong/blobs/${d}`), 404, "nothing stored");
  }
  await stop(server);
});

test("a PATCH cut by a bounded close() leaves the session at its last acknowledged size", async () => {
  const bytes = seededBytes(3 * MiB, 6);
  const digest = digestOf(bytes);
  const acked = 1 * MiB;
  let server = await start();
  const post = await call(server, "POST", "/v2/restart/cut/blobs/uploads/");
  let path = await patchChunk(server, location(post), bytes, 0, acked);

  // A PATCH that declares 2 MiB and sends half of it, then stalls.
  const socket = connect(server.port, "127.0.0.1");
  await new Promise((done) => socket.once("connect", done));
  let answer = "";
  socket.on("data", (d: Uint8Array) => (answer += new TextDecoder().decode(d)));
  socket.on("error", () => {});
  const socketClosed = new Promise((done) => socket.once("close", done));
  socket.write(
    `PATCH ${path} HTTP/1.1\r\nHost: ${server.host}\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Range: ${acked}-${bytes.length - 1}\r\nContent-Length: ${
        bytes.length - acked
      }\r\n\r\n`,
  );
  socket.write(bytes.subarray(acked, acked + MiB));
  await new Promise((done) => setTimeout(done, 300));
  const t0 = Date.now();
  await stop(server, 500);
  const tookMs = Date.now() - t0;
  await within(5000, socketClosed, "the stalled connection is cut by close()");
  socket.destroy();
  assert.ok(tookMs < 5000, `close({ timeoutMs: 500 }) took ${tookMs} ms`);
  assert.doesNotMatch(answer, /^HTTP\/1\.1 202/, "the cut PATCH was not acknowledged");

  server = await start();
  path = await status(server, path, acked);
  path = await patchChunk(server, path, bytes, acked, bytes.length);
  expect(await call(server, "PUT", withDigest(path, digest)), 201, "PUT");
  await assertBlob(server, "restart/cut", digest, bytes);
  await stop(server);
});

test("two servers on one root at once: PATCHes alternate, the PUT verifies on either", async () => {
  const bytes = seededBytes(4 * MiB + 3, 7);
  const digest = digestOf(bytes);
  const cuts = [0, MiB, 2 * MiB, 3 * MiB, bytes.length];
  const a = await start();
  const b = await start();
  const post = await call(a, "POST", "/v2/restart/pair/blobs/uploads/");
  let path = location(post);
  const order = [a, b, a, b];
  for (let i = 0; i < 4; i++) {
    path = await patchChunk(order[i], path, bytes, cuts[i], cuts[i + 1]);
    await status(order[(i + 1) % 2], path, cuts[i + 1]);
  }
  // `a` hashed the first chunk only (then saw the session move on without it): the digest must
  // come from storage.
  expect(await call(a, "PUT", withDigest(path, digest)), 201, "PUT on a");
  await assertBlob(b, "restart/pair", digest, bytes);
  await assertBlob(a, "restart/pair", digest, bytes);
  await stop(a);
  await stop(b);
});

test.run();
