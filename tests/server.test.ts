/**
 * The real servers over real sockets, on whichever runtime runs this file (the node:http bridge on
 * Node, Deno.serve on Deno, Bun.serve on Bun): start on port 0, push and pull with fetch, ranges,
 * HEAD, concurrency, client aborts, graceful close, the request log, and that the Node bridge
 * leaves the global Request/Response alone.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { createRegistry } from "../lib/registry.ts";
import { formatRequestLog, REQUEST_LOG_PATTERN } from "../lib/server/log.ts";
import { serveNode } from "../lib/server/node.ts";
import { detectRuntime, serve, type ServerKind } from "../lib/server/serve.ts";
import { type StartedRegistry, startRegistry } from "../lib/server/start.ts";
import { AddressInUseError, type RequestLogEntry } from "../lib/server/types.ts";
import { storageFromSpec } from "../lib/cli/from_spec.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import { MEDIA_TYPES, sha256 } from "../lib/testing/mod.ts";

const RUNTIME = detectRuntime();
const OCI_MANIFEST = MEDIA_TYPES.manifest;
const EMPTY_CONFIG = MEDIA_TYPES.empty;

/** A stream of `bytes` in `size`-byte chunks, one per pull. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/** POST + streamed PATCH + PUT: answers the blob's digest. */
async function pushBlob(base: string, name: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const post = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: "POST" });
  assert.equal(post.status, 202);
  await post.body?.cancel();
  const location = new URL(post.headers.get("Location")!, base);
  const patch = await fetch(location, {
    method: "PATCH",
    headers: { "Content-Type": "application/octet-stream" },
    body: chunked(bytes, 64 * 1024),
    duplex: "half",
    redirect: "error",
  } as RequestInit);
  assert.equal(patch.status, 202, await patch.text());
  assert.equal(patch.headers.get("Range"), `0-${bytes.byteLength - 1}`);
  const put = new URL(patch.headers.get("Location")!, base);
  put.searchParams.set("digest", digest);
  const done = await fetch(put, { method: "PUT" });
  assert.equal(done.status, 201, await done.text());
  assert.equal(done.headers.get("Docker-Content-Digest"), digest);
  return digest;
}

/** Push a one-layer image manifest under `tag`; answers its bytes and digest. */
async function pushImage(
  base: string,
  name: string,
  tag: string,
  layer: Uint8Array,
): Promise<{ bytes: Uint8Array; digest: string; layer: string }> {
  const config = new TextEncoder().encode("{}");
  const configDigest = await pushBlob(base, name, config);
  const layerDigest = await pushBlob(base, name, layer);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: EMPTY_CONFIG, digest: configDigest, size: config.byteLength },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: layerDigest,
      size: layer.byteLength,
    }],
  };
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  const res = await fetch(`${base}/v2/${name}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": OCI_MANIFEST },
    body: bytes,
  });
  assert.equal(res.status, 201, await res.text());
  return { bytes, digest: sha256(bytes), layer: layerDigest };
}

/** One raw HTTP/1.1 exchange over a socket, for requests fetch cannot make (slow, cut). */
function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Read from `socket` until it closes or `until` matches what was read; answers the text. */
function readUntil(socket: Socket, until: (text: string) => boolean, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(text)}`)), ms);
    const finish = () => {
      clearTimeout(timer);
      resolve(text);
    };
    socket.on("data", (d: Uint8Array) => {
      text += new TextDecoder().decode(d);
      if (until(text)) finish();
    });
    socket.on("close", finish);
    socket.on("error", finish);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a new TCP connection to `port` is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

type StorageKind = "memory" | "fs";

/** Every server this runtime offers: `auto` and the other one. */
const SERVERS: ServerKind[] = RUNTIME === "node"
  ? ["auto"]
  : ["auto", RUNTIME === "deno" ? "native" : "node"];

/** What `server` is on this runtime, for test names. */
function serverName(server: ServerKind): string {
  if (RUNTIME === "bun" && server !== "node") return "Bun.serve";
  if (RUNTIME === "deno" && server === "native") return "Deno.serve";
  return "node:http";
}

function serverSuite(kind: StorageKind, server: ServerKind): void {
  const test = suite(`server (${RUNTIME}, ${serverName(server)}, ${kind} storage)`);
  let registry: StartedRegistry;
  let dir = "";
  const log: RequestLogEntry[] = [];
  // fs blobs are Bun.file() on Bun and always keep their Content-Length; a stream (memory) over
  // 1 MiB goes chunked on Bun (oven-sh/bun#10507), so memory uses a smaller layer.
  const layer = new Uint8Array(randomBytes(kind === "fs" ? 3 * 1024 * 1024 + 17 : 700 * 1024 + 17));
  let image: { bytes: Uint8Array; digest: string; layer: string };

  test.before(async () => {
    dir = mkdtempSync(join(tmpdir(), "fetch-registry-server-"));
    registry = await startRegistry({
      port: 0,
      storage: kind === "fs" ? fsStorage({ root: dir }) : memoryStorage(),
      closeStorage: true,
      server,
      onRequest: (entry) => log.push(entry),
    });
  });

  test.after(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("listens on a free port; url and host name it", async () => {
    assert.ok(registry.port > 0);
    assert.equal(registry.host, `127.0.0.1:${registry.port}`);
    assert.equal(registry.url, `http://127.0.0.1:${registry.port}`);
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
    assert.deepEqual(await res.json(), {});
  });

  test("push a blob (POST, streamed PATCH, PUT) and a manifest", async () => {
    image = await pushImage(registry.url, "demo/app", "v1", layer);
    const tags = await fetch(`${registry.url}/v2/demo/app/tags/list`);
    assert.deepEqual(await tags.json(), { name: "demo/app", tags: ["v1"] });
  });

  test("pull the blob back byte for byte, with Content-Length on GET and HEAD", async () => {
    const url = `${registry.url}/v2/demo/app/blobs/${image.layer}`;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Content-Length"), String(layer.byteLength));
    assert.equal(res.headers.get("Docker-Content-Digest"), image.layer);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(body.byteLength, layer.byteLength);
    assert.equal(sha256(body), image.layer);
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("Content-Length"), String(layer.byteLength));
    assert.equal(head.headers.get("Transfer-Encoding"), null);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  test("ranges: 206 with Content-Range and the exact bytes; 416 past the end", async () => {
    const url = `${registry.url}/v2/demo/app/blobs/${image.layer}`;
    const size = layer.byteLength;
    const cases: [string, number, number][] = [
      ["bytes=0-0", 0, 0],
      ["bytes=500-1499", 500, 1499],
      [`bytes=${size - 100}-`, size - 100, size - 1],
      ["bytes=-4096", size - 4096, size - 1],
      [`bytes=1000-${size + 5000}`, 1000, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await fetch(url, { headers: { Range: range } });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("Content-Range"), `bytes ${start}-${end}/${size}`, range);
      assert.equal(res.headers.get("Content-Length"), String(end - start + 1), range);
      const body = new Uint8Array(await res.arrayBuffer());
      assert.deepEqual(body, layer.subarray(start, end + 1), range);
    }
    const bad = await fetch(url, { headers: { Range: `bytes=${size}-${size + 10}` } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get("Content-Range"), `bytes */${size}`);
    await bad.body?.cancel();
  });

  test("pull the manifest by tag and digest; HEAD has its headers and no body", async () => {
    for (const ref of ["v1", image.digest]) {
      const res = await fetch(`${registry.url}/v2/demo/app/manifests/${ref}`, {
        headers: { Accept: OCI_MANIFEST },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("Content-Type"), OCI_MANIFEST);
      assert.equal(res.headers.get("Content-Length"), String(image.bytes.byteLength));
      assert.equal(res.headers.get("Docker-Content-Digest"), image.digest);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), image.bytes);
      const head = await fetch(`${registry.url}/v2/demo/app/manifests/${ref}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("Content-Length"), String(image.bytes.byteLength));
      assert.equal(head.headers.get("Content-Type"), OCI_MANIFEST);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    }
  });

  test("errors travel as OCI JSON over the wire", async () => {
    const res = await fetch(`${registry.url}/v2/demo/app/manifests/nope`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get("Content-Type") ?? "", /application\/json/);
    const body = await res.json() as { errors: { code: string }[] };
    assert.equal(body.errors[0].code, "MANIFEST_UNKNOWN");
    const bad = await fetch(`${registry.url}/v2/Bad_Name/tags/list`);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });

  test("concurrent pushes and pulls", async () => {
    // Small ones, and ones over 256 KiB that the node:http bridge sends through pooled buffers.
    const blobs = Array.from(
      { length: 6 },
      (_, i) => new Uint8Array(randomBytes(i % 2 ? 300_000 + i * 99_999 : 50_000 + i * 999)),
    );
    const digests = await Promise.all(
      blobs.map((b, i) => pushBlob(registry.url, `par/r${i % 2}`, b)),
    );
    const pulls = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const k = i % blobs.length;
        const res = await fetch(`${registry.url}/v2/par/r${k % 2}/blobs/${digests[k]}`);
        assert.equal(res.status, 200);
        return sha256(new Uint8Array(await res.arrayBuffer())) === digests[k];
      }),
    );
    assert.ok(pulls.every(Boolean));
  });

  test("a client cutting an upload or a download does not disturb the server", async () => {
    // Upload: headers promise 1 MiB, 1000 bytes arrive, then the connection drops.
    const post = await fetch(`${registry.url}/v2/cut/up/blobs/uploads/`, { method: "POST" });
    const location = post.headers.get("Location")!;
    await post.body?.cancel();
    const up = await rawConnect(registry.port);
    up.write(
      `PATCH ${location} HTTP/1.1\r\nHost: ${registry.host}\r\nContent-Length: 1048576\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    );
    up.write(new Uint8Array(1000));
    await sleep(100);
    up.destroy();
    // Download: read the first bytes of the layer, then drop.
    const down = await rawConnect(registry.port);
    down.write(
      `GET /v2/demo/app/blobs/${image.layer} HTTP/1.1\r\nHost: ${registry.host}\r\n\r\n`,
    );
    await readUntil(down, (t) => t.length > 20_000);
    down.destroy();
    await sleep(100);
    // The server is fine, and the cut upload appended nothing.
    const status = await fetch(new URL(location, registry.url));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("Range"), "0-0");
    const res = await fetch(`${registry.url}/v2/demo/app/blobs/${image.layer}`);
    assert.equal(sha256(new Uint8Array(await res.arrayBuffer())), image.layer);
  });

  test("an early error with an unread body leaves the connection usable", async () => {
    const socket = await rawConnect(registry.port);
    socket.on("error", () => {});
    const size = 8 * 1024 * 1024;
    let text = "";
    socket.on("data", (d: Uint8Array) => (text += new TextDecoder().decode(d)));
    socket.write(
      `PATCH /v2/early/x/blobs/uploads/nosuchsession HTTP/1.1\r\nHost: ${registry.host}\r\n` +
        `Content-Length: ${size}\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const chunk = new Uint8Array(256 * 1024);
    let stalled = false;
    for (let sent = 0; sent < size && !stalled; sent += chunk.byteLength) {
      if (!socket.write(chunk)) {
        const drained = new Promise<boolean>((r) => socket.once("drain", () => r(true)));
        stalled = !(await Promise.race([drained, sleep(3000).then(() => false)]));
      }
    }
    if (!stalled) socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${registry.host}\r\n\r\n`);
    for (let i = 0; i < 200 && !/HTTP\/1\.1 200[\s\S]*\{\}/.test(text); i++) {
      if (stalled && /^HTTP\/1\.1 404/.test(text)) break;
      await sleep(25);
    }
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 404/);
    if (serverName(server) === "Deno.serve") {
      // Deno.serve neither reads nor discards the rest of the body after the answer (the client
      // must stop sending, as HTTP clients do on an early error); this is Deno's behaviour.
      return;
    }
    assert.equal(stalled, false, "the server keeps reading (and discarding) the unread body");
    if (!/HTTP\/1\.1 200/.test(text)) {
      // A server may also close the connection after an early answer; then it must say so.
      assert.match(text, /\r\nconnection: close\r\n/i, text);
    }
  });

  test("the request log: one entry per request with method, path, status, bytes in/out, ms", () => {
    const patches = log.filter((e) => e.method === "PATCH" && e.status === 202);
    assert.ok(
      patches.some((e) => e.bytesIn === layer.byteLength && e.bytesOut === 0),
      "PATCH counts the bytes received as bytes in",
    );
    const gets = log.filter((e) =>
      e.method === "GET" && e.path === `/v2/demo/app/blobs/${image.layer}`
    );
    assert.ok(
      gets.some((e) =>
        e.status === 200 && e.bytesOut === layer.byteLength && e.bytesIn === 0 && !e.aborted
      ),
      "GET counts the bytes sent as bytes out",
    );
    const heads = log.filter((e) => e.method === "HEAD" && e.status === 200);
    assert.ok(heads.length >= 1 && heads.every((e) => e.bytes === 0));
    for (const e of log) assert.equal(e.bytes, e.bytesIn + e.bytesOut);
    assert.ok(log.some((e) => e.path === "/v2/demo/app/manifests/nope" && e.status === 404));
    for (const e of log) {
      assert.ok(e.ms >= 0 && Number.isFinite(e.ms));
      assert.match(formatRequestLog(e), REQUEST_LOG_PATTERN);
    }
  });

  test.run();
}

function closeSuite(server: ServerKind): void {
  const test = suite(`server (${RUNTIME}, ${serverName(server)}): close`);

  test("close() lets an in-flight request finish, and refuses new connections", async () => {
    const registry = await startRegistry({ port: 0, server });
    const post = await fetch(`${registry.url}/v2/slow/up/blobs/uploads/`, { method: "POST" });
    const location = post.headers.get("Location")!;
    await post.body?.cancel();
    const socket = await rawConnect(registry.port);
    const answer = readUntil(socket, (t) => /\r\n\r\n/.test(t));
    socket.write(
      `PATCH ${location} HTTP/1.1\r\nHost: ${registry.host}\r\nContent-Length: 2000\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    );
    socket.write(new Uint8Array(1000));
    await sleep(150);
    let closed = false;
    const closing = registry.close({ timeoutMs: 5000 }).then(() => (closed = true));
    await sleep(150);
    assert.equal(closed, false, "close() waits for the in-flight request");
    if (serverName(server) === "Deno.serve") {
      // Deno 2.9 cannot stop listening without breaking in-flight uploads (denoland/deno#36809):
      // while it drains, new requests are answered 503 and their connections closed.
      const late = await fetch(`${registry.url}/v2/`);
      assert.equal(late.status, 503);
      await late.body?.cancel();
    } else {
      assert.ok(await refused(registry.port), "no new connections while closing");
    }
    socket.write(new Uint8Array(1000));
    const text = await answer;
    assert.match(text, /^HTTP\/1\.1 202/);
    assert.match(text, /\r\nrange: 0-1999\r\n/i);
    await closing;
    assert.equal(closed, true);
    socket.destroy();
  });

  test("close() is bounded: a stalled request is cut after timeoutMs", async () => {
    const registry = await startRegistry({ port: 0, server });
    const post = await fetch(`${registry.url}/v2/stall/up/blobs/uploads/`, { method: "POST" });
    const location = post.headers.get("Location")!;
    await post.body?.cancel();
    const socket = await rawConnect(registry.port);
    socket.on("error", () => {});
    socket.write(
      `PATCH ${location} HTTP/1.1\r\nHost: ${registry.host}\r\nContent-Length: 2000\r\n\r\n`,
    );
    await sleep(100);
    const started = Date.now();
    await registry.close({ timeoutMs: 300 });
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 3000, `close took ${took} ms`);
    socket.destroy();
  });

  test("close() ends idle connections at once: kept alive, or never sent a request", async () => {
    // A client's spare pooled connection sends nothing (Deno's fetch opens one while it reads a
    // chunked response); so does a TCP health check. closeIdleConnections() leaves such a
    // connection open, and close() sat out its timeout (lib/server/node_connections.ts).
    const running = await serve((request) => {
      if (new URL(request.url).pathname !== "/chunked") return new Response("fixed");
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("streamed"));
            controller.close();
          },
        }),
      );
    }, { port: 0, server });
    const used = await rawConnect(running.port);
    const silent = await rawConnect(running.port);
    const sockets = [used, silent];
    // Bun 1.4 (Bun.serve, and its node:http built on it) never ends a connection that has sent
    // nothing, not even on stop(true) or destroy(); it does not hold up close() there, but only
    // the used connection is expected to end.
    for (const s of sockets) s.on("error", () => {});
    const ended = (RUNTIME === "bun" ? [used] : sockets).map((s) =>
      new Promise<void>((resolve) => s.once("close", () => resolve()))
    );
    try {
      // Bun.serve buffers a short stream and sends it with Content-Length.
      for (const path of ["/chunked", "/fixed"]) {
        const answer = readUntil(used, (t) => /\r\n0\r\n\r\n$|\r\n\r\n(streamed|fixed)$/.test(t));
        used.write(`GET ${path} HTTP/1.1\r\nHost: ${running.host}\r\n\r\n`);
        const text = await answer;
        assert.match(text, /^HTTP\/1\.1 200/);
        assert.doesNotMatch(text, /\r\nconnection: close\r\n/i, "the connection is kept alive");
      }
    } catch (error) {
      for (const s of sockets) s.destroy();
      await running.close({ timeoutMs: 0 });
      throw error;
    }
    const started = Date.now();
    await running.close({ timeoutMs: 20_000 });
    await Promise.all(ended);
    const took = Date.now() - started;
    for (const s of sockets) s.destroy();
    assert.ok(took < 10_000, `close took ${took} ms: it waited for its timeout`);
  });

  test.run();
}

const misc = suite(`server (${RUNTIME}): misc`);

misc("a taken port is an AddressInUseError", async () => {
  const first = await startRegistry({ port: 0 });
  try {
    await assert.rejects(startRegistry({ port: first.port }), (e: unknown) => {
      assert.ok(e instanceof AddressInUseError);
      assert.equal((e as AddressInUseError).code, "EADDRINUSE");
      return true;
    });
  } finally {
    await first.close();
  }
});

misc("unknown storage descriptions are refused with one line", async () => {
  await assert.rejects(storageFromSpec("ftp://x", {}), /unknown storage "ftp:\/\/x"/);
  await assert.rejects(storageFromSpec("fs:", {}), /needs a directory/);
});

misc("the Node bridge leaves the global Request and Response alone", async () => {
  const { Request: R, Response: S, Headers: H, fetch: F } = globalThis;
  const server = await serveNode(createRegistry({ storage: memoryStorage() }).fetch, { port: 0 });
  try {
    const res = await fetch(`${server.url}/v2/`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(globalThis.Request, R);
    assert.equal(globalThis.Response, S);
    assert.equal(globalThis.Headers, H);
    assert.equal(globalThis.fetch, F);
  } finally {
    await server.close();
  }
});

/** A byte stream of `size` bytes, byte i being `(i * 31 + seed) % 256`; fails at `failAt`. */
function patternStream(size: number, seed: number, failAt = Infinity): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (at >= failAt) throw new Error("the body failed half-way");
      const request = controller.byobRequest;
      if (at >= size) {
        controller.close();
        request?.respond(0);
        return;
      }
      const view = request?.view;
      const out = view
        ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
        : new Uint8Array(100_000);
      const n = Math.min(out.byteLength, size - at, 70_001);
      for (let i = 0; i < n; i++) out[i] = ((at + i) * 31 + seed) % 256;
      at += n;
      if (request) request.respond(n);
      else controller.enqueue(out.slice(0, n));
    },
  }) as ReadableStream<Uint8Array>;
}

function isPattern(bytes: Uint8Array, seed: number): boolean {
  for (let i = 0; i < bytes.byteLength; i++) if (bytes[i] !== (i * 31 + seed) % 256) return false;
  return true;
}

misc(
  "the Node bridge: byte-stream bodies through pooled buffers stay exact under concurrency",
  async () => {
    const server = await serveNode((request) => {
      const url = new URL(request.url);
      const seed = Number(url.searchParams.get("seed"));
      const size = 1_500_000 + seed * 1001;
      const known = url.searchParams.has("length");
      return new Response(patternStream(size, seed), {
        headers: known ? { "Content-Length": String(size) } : {},
      });
    }, { port: 0 });
    try {
      const results = await Promise.all(Array.from({ length: 8 }, async (_, seed) => {
        const res = await fetch(`${server.url}/?seed=${seed}${seed % 2 ? "&length" : ""}`);
        const reader = res.body!.getReader();
        const parts: Uint8Array[] = [];
        let size = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
          size += value.byteLength;
          if (seed % 3 === 0) await sleep(2); // slow readers keep buffers in flight
        }
        const all = new Uint8Array(size);
        let at = 0;
        for (const p of parts) all.set(p, (at += p.byteLength) - p.byteLength);
        return size === 1_500_000 + seed * 1001 && isPattern(all, seed);
      }));
      assert.deepEqual(results, results.map(() => true));
    } finally {
      await server.close();
    }
  },
);

misc("the Node bridge: a byte-stream body that fails half-way cuts the connection", async () => {
  const server = await serveNode(
    () =>
      new Response(patternStream(3_000_000, 1, 1_000_000), {
        headers: { "Content-Length": "3000000" },
      }),
    { port: 0, onError: () => {} },
  );
  try {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer());
    const again = await fetch(`${server.url}/`);
    assert.equal(again.status, 200);
    await again.body?.cancel();
  } finally {
    await server.close();
  }
});

misc("the log line format", () => {
  const line = formatRequestLog(
    {
      method: "PATCH",
      path: "/v2/a/blobs/uploads/x?digest=sha256:ab&X-Amz-Signature=s3cr3t&token",
      status: 202,
      bytesIn: 1048576,
      bytesOut: 0,
      bytes: 1048576,
      ms: 12.34,
      aborted: false,
    },
    new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
  );
  assert.equal(
    line,
    "2026-01-02T03:04:05.006Z PATCH /v2/a/blobs/uploads/x?digest=sha256:ab&X-Amz-Signature=" +
      "REDACTED&token 202 in=1048576 out=0 12ms",
  );
  const short = formatRequestLog(
    {
      method: "GET",
      path: "/v2/",
      status: 200,
      bytesIn: 0,
      bytesOut: 2,
      bytes: 2,
      ms: 0.42,
      aborted: true,
    },
    new Date(0),
  );
  assert.equal(short, "1970-01-01T00:00:00.000Z GET /v2/ 200 in=0 out=2 0.4ms aborted");
  assert.match(short, REQUEST_LOG_PATTERN);
  assert.doesNotMatch("GET /v2/ 200", REQUEST_LOG_PATTERN);
});

for (const server of SERVERS) {
  serverSuite("memory", server);
  serverSuite("fs", server);
  closeSuite(server);
}
misc.run();
