/**
 * Crash: the CLI server (spawned on the runtime running this file) with fs storage is killed with
 * SIGKILL in the middle of a large streamed upload, then in the middle of a commit, then in the
 * middle of a burst of manifest and tag pushes, and restarted on the same root each time. After
 * each kill: everything acknowledged before it (blobs, manifests, tags, an index, a referrer) is
 * intact and byte-identical; no partial blob is served (the in-flight digest is 404 or whole,
 * never short); the interrupted upload resumes from a Range consistent with the acknowledged
 * bytes and completes; and no file in the storage root outside its temporary and upload areas is
 * partial (every blob file hashes to its name, every manifest file to its digest, every tag names
 * a stored manifest).
 *
 * The fs layout this audits is documented in lib/storage/fs/paths.ts.
 *
 * @module
 */
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { detectRuntime } from "../lib/server/serve.ts";
import { type CliServer, startCliServer } from "./support/cli_process.ts";
import { digestOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, utf8 } from "./support/oci.ts";

const RUNTIME = detectRuntime();
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// ---------------------------------------------------------------------------------------------
// Large content, generated on demand (never held whole in memory)

/**
 * `size` incompressible bytes from `seed` (an AES-256-CTR keystream), any slice of which can be
 * made on its own: large blobs are streamed from here rather than kept in memory.
 */
class Seeded {
  readonly size: number;
  readonly digest: string;
  readonly #key: Uint8Array;

  constructor(seed: string, size: number) {
    this.size = size;
    this.#key = createHash("sha256").update(`fetch-registry crash test ${seed}`).digest();
    const hash = createHash("sha256");
    for (let at = 0; at < size; at += 4 * MiB) hash.update(this.slice(at, at + 4 * MiB));
    this.digest = `sha256:${hash.digest("hex")}`;
  }

  /** Bytes `[start, end)` (clamped to the size). */
  slice(start: number, end: number): Uint8Array {
    end = Math.min(end, this.size);
    const block = Math.floor(start / 16);
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setUint32(12, block);
    new DataView(iv.buffer).setUint32(8, Math.floor(block / 2 ** 32));
    const cipher = createCipheriv("aes-256-ctr", this.#key, iv);
    const skip = start - block * 16;
    const out = new Uint8Array(cipher.update(new Uint8Array(end - start + skip)));
    return out.subarray(skip);
  }
}

// ---------------------------------------------------------------------------------------------
// The server

let root = "";
let server: CliServer | undefined;

/** The CLI server over the fs storage in `root`. */
function startServer(): Promise<CliServer> {
  return startCliServer(`fs:${root}`);
}

/** kill -9 the server and wait until it is gone (reaped). */
async function killServer(): Promise<void> {
  const how = await server!.kill();
  assert.equal(how, "SIGKILL", "the server died of the SIGKILL");
  server = undefined;
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** A fully read answer. */
interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
}

async function call(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Uint8Array } = {},
): Promise<Answer> {
  const res = await fetch(server!.url + path, {
    method,
    headers: init.headers,
    body: init.body as BodyInit | undefined,
  });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: new TextDecoder().decode(body) };
}

function expect(res: Answer, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text}`);
}

function location(res: Answer): string {
  const value = res.headers.get("Location");
  assert.ok(value, "a Location header");
  const url = new URL(value, "http://registry.invalid");
  return url.pathname + url.search;
}

function withDigest(path: string, digest: string): string {
  return `${path}${path.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`;
}

/** The sha256 digest and size of a blob as served (GET, streamed through a hash). */
async function servedBlob(repo: string, digest: string) {
  const res = await fetch(`${server!.url}/v2/${repo}/blobs/${digest}`);
  const hash = createHash("sha256");
  let size = 0;
  let head = "";
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      if (size < 1000) head += new TextDecoder().decode(chunk.subarray(0, 1000));
      size += chunk.length;
    }
  }
  return {
    status: res.status,
    length: res.headers.get("Content-Length"),
    size,
    digest: `sha256:${hash.digest("hex")}`,
    /** The start of the body, as text (for error answers). */
    head,
  };
}

/** Assert blob `digest` is served whole in `repo`: HEAD and GET, size and content. */
async function assertBlob(repo: string, digest: string, size: number, what: string) {
  const head = await call("HEAD", `/v2/${repo}/blobs/${digest}`);
  expect(head, 200, `HEAD ${what}`);
  assert.equal(head.headers.get("Content-Length"), String(size), `${what}: HEAD size`);
  const got = await servedBlob(repo, digest);
  assert.equal(got.status, 200, `GET ${what}`);
  assert.equal(got.size, size, `${what}: GET gives every byte`);
  assert.equal(got.digest, digest, `${what}: GET gives the right bytes`);
}

/**
 * Assert blob `digest` is either absent (404 for HEAD and GET) or served whole: never a short or
 * wrong body. Answers whether it is there.
 */
async function assertNoPartialBlob(repo: string, digest: string, size: number, what: string) {
  const head = await call("HEAD", `/v2/${repo}/blobs/${digest}`);
  const got = await servedBlob(repo, digest);
  if (head.status === 404) {
    assert.equal(got.status, 404, `${what}: HEAD says 404, so must GET`);
    const error = JSON.parse(got.head) as { errors: { code: string }[] };
    assert.equal(error.errors[0].code, "BLOB_UNKNOWN", `${what}: a 404 is an error, no bytes`);
    return false;
  }
  assert.equal(head.status, 200, `${what}: HEAD is 404 or 200`);
  assert.equal(head.headers.get("Content-Length"), String(size), `${what}: whole size`);
  assert.equal(got.status, 200);
  assert.equal(got.size, size, `${what}: never a short body`);
  assert.equal(got.digest, digest, `${what}: right bytes`);
  return true;
}

/** A request written by hand on a socket, so the test controls when each byte goes out. */
class RawRequest {
  readonly socket: Socket;
  /** Everything the server answered. */
  answer = "";
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  sent = 0;

  constructor(port: number, head: string) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("data", (d: Uint8Array) => (this.answer += new TextDecoder().decode(d)));
    this.socket.on("error", () => {});
    this.closed = new Promise((done) => this.socket.once("close", () => done()));
    this.socket.write(head);
  }

  /** Write bytes, waiting for the socket to drain (false when the connection is gone). */
  async write(bytes: Uint8Array): Promise<boolean> {
    if (this.socket.destroyed) return false;
    this.sent += bytes.length;
    if (this.socket.write(bytes)) return true;
    await Promise.race([new Promise((done) => this.socket.once("drain", done)), this.closed]);
    return !this.socket.destroyed;
  }

  /** The status of the answer so far, if its status line has arrived. */
  status(): number | undefined {
    const m = /^HTTP\/1\.1 (\d{3})/.exec(this.answer);
    return m ? Number(m[1]) : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// What was acknowledged before the kills

interface Pushed {
  repo: string;
  reference: string;
  bytes: Uint8Array;
  mediaType: string;
}

/** Blobs acknowledged (201): repo, digest, size. */
const ackedBlobs: { repo: string; digest: string; size: number }[] = [];
/** Manifests acknowledged (201), by tag and by digest. */
const ackedManifests: Pushed[] = [];

async function pushBlob(repo: string, bytes: Uint8Array, chunks = 1): Promise<string> {
  const digest = digestOf(bytes);
  const post = await call("POST", `/v2/${repo}/blobs/uploads/`);
  expect(post, 202, "POST");
  let path = location(post);
  const step = Math.ceil(bytes.length / chunks);
  let last = 0;
  for (; last + step < bytes.length; last += step) {
    const res = await call("PATCH", path, {
      headers: { "Content-Range": `${last}-${last + step - 1}` },
      body: bytes.slice(last, last + step),
    });
    expect(res, 202, "PATCH");
    path = location(res);
  }
  const put = await call("PUT", withDigest(path, digest), {
    headers: { "Content-Range": `${last}-${bytes.length - 1}` },
    body: bytes.slice(last),
  });
  expect(put, 201, "PUT blob");
  ackedBlobs.push({ repo, digest, size: bytes.length });
  return digest;
}

/** PUT a manifest under `reference` (a tag; undefined: its digest); answers its digest. */
async function pushManifest(
  repo: string,
  tag: string | undefined,
  doc: unknown,
  mediaType: string,
): Promise<string> {
  const bytes = utf8(JSON.stringify(doc, null, 2));
  const digest = digestOf(bytes);
  const reference = tag ?? digest;
  const res = await call("PUT", `/v2/${repo}/manifests/${reference}`, {
    headers: { "Content-Type": mediaType },
    body: bytes,
  });
  expect(res, 201, `PUT manifest ${repo}:${reference}`);
  assert.equal(res.headers.get("Docker-Content-Digest"), digest);
  if (tag !== undefined) ackedManifests.push({ repo, reference: tag, bytes, mediaType });
  ackedManifests.push({ repo, reference: digest, bytes, mediaType });
  return digest;
}

function descriptor(mediaType: string, digest: string, size: number) {
  return { mediaType, digest, size };
}

/** Push a small world: blobs (single and chunked), images, tags, an index, a referrer. */
async function pushBaseline(): Promise<void> {
  const config = utf8(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [] },
  }));
  const layer = new Seeded("baseline layer", 6 * MiB + 5);
  const layerBytes = layer.slice(0, layer.size);
  for (const repo of ["base/app", "base/other"]) {
    const configDigest = await pushBlob(repo, config);
    const layerDigest = await pushBlob(repo, layerBytes, repo === "base/app" ? 4 : 1);
    assert.equal(layerDigest, layer.digest);
    const image = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, configDigest, config.length),
      layers: [descriptor(OCI_LAYER, layerDigest, layer.size)],
      annotations: { repo },
    };
    const imageDigest = await pushManifest(repo, "v1", image, OCI_MANIFEST);
    await pushManifest(repo, "stable", image, OCI_MANIFEST);
    const imageSize = utf8(JSON.stringify(image, null, 2)).length;
    await pushManifest(repo, "multi", {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{
        ...descriptor(OCI_MANIFEST, imageDigest, imageSize),
        platform: { architecture: "amd64", os: "linux" },
      }],
    }, OCI_INDEX);
    // A referrer (signature-like artifact) of the image, pushed by digest.
    const empty = utf8("{}");
    const emptyDigest = await pushBlob(repo, empty);
    await pushManifest(repo, undefined, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.test.signature",
      config: descriptor("application/vnd.oci.empty.v1+json", emptyDigest, 2),
      layers: [descriptor("application/vnd.oci.empty.v1+json", emptyDigest, 2)],
      subject: descriptor(OCI_MANIFEST, imageDigest, imageSize),
    }, OCI_MANIFEST);
  }
}

/** Everything acknowledged so far is served, byte for byte. */
async function assertAcknowledged(): Promise<void> {
  for (const b of ackedBlobs) await assertBlob(b.repo, b.digest, b.size, `blob ${b.digest}`);
  const tagsByRepo = new Map<string, Set<string>>();
  for (const m of ackedManifests) {
    const res = await call("GET", `/v2/${m.repo}/manifests/${m.reference}`, {
      headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
    });
    expect(res, 200, `manifest ${m.repo}:${m.reference}`);
    assert.equal(res.headers.get("Docker-Content-Digest"), digestOf(m.bytes));
    assert.equal(res.headers.get("Content-Type"), m.mediaType);
    assert.deepEqual(res.body, m.bytes, `${m.repo}:${m.reference}: exact bytes`);
    if (!m.reference.includes(":")) {
      const set = tagsByRepo.get(m.repo) ?? new Set();
      set.add(m.reference);
      tagsByRepo.set(m.repo, set);
    }
  }
  for (const [repo, tags] of tagsByRepo) {
    const res = await call("GET", `/v2/${repo}/tags/list`);
    expect(res, 200, `tags of ${repo}`);
    const listed = new Set((JSON.parse(res.text) as { tags: string[] }).tags);
    for (const tag of tags) assert.ok(listed.has(tag), `${repo}: tag ${tag} is listed`);
  }
  // The referrers index still lists the acknowledged referrers.
  for (const repo of ["base/app", "base/other"]) {
    const subject = ackedManifests.find((m) => m.repo === repo && m.reference === "v1")!;
    const res = await call("GET", `/v2/${repo}/referrers/${digestOf(subject.bytes)}`);
    expect(res, 200, "referrers");
    const index = JSON.parse(res.text) as { manifests: { artifactType?: string }[] };
    assert.equal(index.manifests.length, 1, `${repo}: one referrer`);
    assert.equal(index.manifests[0].artifactType, "application/vnd.test.signature");
  }
}

// ---------------------------------------------------------------------------------------------
// The storage root, audited on disk

function hashFile(path: string, algorithm: string): string {
  return digestOf(new Uint8Array(readFileSync(path)), algorithm as "sha256" | "sha512");
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/** `alg-hex` → `alg:hex`. */
function digestFromName(name: string): string | undefined {
  const m = /^(sha256|sha512)-([0-9a-f]+)$/.exec(name);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/**
 * Every file outside `tmp/` and `uploads/` is whole: blob files hash to their names, manifest
 * files to their digests, links are empty and name stored blobs, tags name stored manifests,
 * referrer entries are whole JSON. Answers the tag lock files found (left by a kill during a tag
 * update), which are not data.
 */
function auditRoot(): string[] {
  const locks: string[] = [];
  const top = readdirSync(root).filter((n) => !["tmp", "uploads"].includes(n));
  for (const name of top) {
    assert.ok(["blobs", "repositories"].includes(name), `unexpected ${name} in the storage root`);
  }
  for (const path of walk(join(root, "blobs"))) {
    const rel = path.slice(root.length + 1).split("/");
    assert.equal(rel.length, 4, `blob file at blobs/<alg>/<xx>/<hex>: ${path}`);
    const [, alg, prefix, hex] = rel;
    assert.equal(hex.slice(0, 2), prefix, `blob ${path} in its prefix directory`);
    assert.equal(hashFile(path, alg), `${alg}:${hex}`, `blob file ${path} is whole`);
  }
  const blobPath = (digest: string) => {
    const [alg, hex] = digest.split(":");
    return join(root, "blobs", alg, hex.slice(0, 2), hex);
  };
  for (const path of walk(join(root, "repositories"))) {
    const parts = path.split("/");
    const name = parts.at(-1)!;
    const kind = parts.at(-2)!;
    const repoDir = dirname(dirname(path));
    if (kind === "_links") {
      const digest = digestFromName(name);
      assert.ok(digest, `link file name ${path}`);
      assert.equal(statSync(path).size, 0, `link ${path} is empty`);
      assert.ok(existsSync(blobPath(digest)), `link ${path} names a stored blob`);
    } else if (kind === "_manifests") {
      const digest = digestFromName(name);
      assert.ok(digest, `manifest file name ${path}`);
      const file = readFileSync(path);
      const cut = file.indexOf(0x0a);
      assert.ok(cut > 0, `manifest file ${path} has its metadata line`);
      const meta = JSON.parse(file.subarray(0, cut).toString("utf8")) as { digest: string };
      assert.equal(meta.digest, digest, `manifest ${path}: metadata digest`);
      const [alg] = digest.split(":");
      const body = file.subarray(cut + 1);
      assert.equal(
        digestOf(new Uint8Array(body), alg as "sha256" | "sha512"),
        digest,
        `manifest file ${path} is whole`,
      );
    } else if (kind === "_tags") {
      if (name.startsWith(".lock-")) {
        locks.push(path);
        continue;
      }
      const digest = readFileSync(path, "utf8").trim();
      assert.match(digest, /^sha256:[0-9a-f]{64}$/, `tag file ${path} holds a whole digest`);
      assert.ok(
        existsSync(join(repoDir, "_manifests", digest.replace(":", "-"))),
        `tag ${path} names a stored manifest`,
      );
    } else if (parts.at(-3) === "_referrers") {
      assert.ok(digestFromName(name), `referrer entry name ${path}`);
      const entry = JSON.parse(readFileSync(path, "utf8")) as { digest: string };
      assert.equal(entry.digest, digestFromName(name), `referrer entry ${path} is whole`);
    } else {
      assert.fail(`unexpected file in the repositories: ${path}`);
    }
  }
  return locks;
}

// ---------------------------------------------------------------------------------------------

const test = suite(`crash (${RUNTIME})`);

test.before(async () => {
  try {
    root = mkdtempSync(join(tmpdir(), "fetch-registry-crash-"));
    server = await startServer();
    await pushBaseline();
  } catch (error) {
    // uvu reports a failing hook only as tests not passed: say why.
    console.error("crash.test.ts: setup failed:", error);
    throw error;
  }
});

test.after(async () => {
  if (server) await killServer().catch(() => {});
  if (root) rmSync(root, { recursive: true, force: true });
});

test("kill -9 during a large streamed upload: nothing acknowledged lost, the upload resumes", async () => {
  const blob = new Seeded("streamed", 96 * MiB + 12_345);
  const chunk = 8 * MiB;
  const post = await call("POST", "/v2/crash/streamed/blobs/uploads/");
  expect(post, 202, "POST");
  const id = post.headers.get("Docker-Upload-UUID")!;
  let path = location(post);
  // Three chunks acknowledged (202).
  let acked = 0;
  for (let i = 0; i < 3; i++) {
    const res = await call("PATCH", path, {
      headers: { "Content-Range": `${acked}-${acked + chunk - 1}` },
      body: blob.slice(acked, acked + chunk),
    });
    expect(res, 202, "PATCH");
    acked += chunk;
    assert.equal(res.headers.get("Range"), `0-${acked - 1}`);
    path = location(res);
  }
  // Then the rest as one streamed PATCH (chunked transfer encoding), written slowly, and the
  // server killed once it has written a good part of it to disk.
  const request = new RawRequest(
    server!.port,
    `PATCH ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server!.port}\r\n` +
      `Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  // The session's bytes are one file, each append written in place at its offset
  // (lib/storage/fs/uploads.ts): what lies beyond the acknowledged bytes is the append in flight.
  const data = join(root, "uploads", id, "data");
  const inFlight = () => (existsSync(data) ? statSync(data).size - acked : 0);
  let at = acked;
  let onDisk = 0;
  const deadline = Date.now() + 30_000;
  while (at < blob.size && Date.now() < deadline) {
    const piece = blob.slice(at, at + MiB);
    const size = utf8(`${piece.length.toString(16)}\r\n`);
    const framed = new Uint8Array(size.length + piece.length + 2);
    framed.set(size, 0);
    framed.set(piece, size.length);
    framed.set(utf8("\r\n"), size.length + piece.length);
    assert.ok(await request.write(framed), "the connection stays open while sending");
    at += piece.length;
    await sleep(5);
    onDisk = inFlight();
    if (onDisk >= 24 * MiB) break;
  }
  assert.ok(onDisk >= 24 * MiB, `the server wrote the stream to disk as it came (${onDisk})`);
  assert.ok(at < blob.size, "killed before the whole blob was sent");
  assert.equal(request.status(), undefined, "no answer to the interrupted PATCH");
  await killServer();
  await request.closed;
  auditRoot();

  server = await startServer();
  await assertAcknowledged();
  assert.equal(
    await assertNoPartialBlob("crash/streamed", blob.digest, blob.size, "the in-flight blob"),
    false,
    "the blob being uploaded does not exist",
  );
  // The session continues from what was acknowledged: at least every 202'd byte, at most what
  // was sent.
  const status = await call("GET", path);
  expect(status, 204, "GET the interrupted session");
  const range = /^0-(\d+)$/.exec(status.headers.get("Range") ?? "");
  assert.ok(range, `Range header: ${status.headers.get("Range")}`);
  const size = Number(range[1]) + 1;
  assert.ok(size >= acked && size <= at, `Range ${size} between acked ${acked} and sent ${at}`);
  assert.equal(size, acked, "fsStorage keeps whole appends only: the session is at the last 202");
  path = location(status);
  // Resume with chunks of 16 MiB, then PUT: the digest is computed again from storage.
  for (let from = size; from < blob.size; from += 16 * MiB) {
    const to = Math.min(blob.size, from + 16 * MiB);
    const res = await call("PATCH", path, {
      headers: { "Content-Range": `${from}-${to - 1}` },
      body: blob.slice(from, to),
    });
    expect(res, 202, "PATCH after the restart");
    path = location(res);
  }
  const put = await call("PUT", withDigest(path, blob.digest));
  expect(put, 201, "PUT after the restart");
  ackedBlobs.push({ repo: "crash/streamed", digest: blob.digest, size: blob.size });
  await assertBlob("crash/streamed", blob.digest, blob.size, "the resumed blob");
  assert.deepEqual(auditRoot(), [], "no tag locks left");
});

test("kill -9 during commit (PUT with a large last chunk): no partial blob; completed after", async () => {
  const blob = new Seeded("commit", 80 * MiB + 777);
  const first = 16 * MiB;
  const post = await call("POST", "/v2/crash/commit/blobs/uploads/");
  expect(post, 202, "POST");
  const id = post.headers.get("Docker-Upload-UUID")!;
  let path = location(post);
  for (let at = 0; at < 2 * first; at += first) {
    const res = await call("PATCH", path, {
      headers: { "Content-Range": `${at}-${at + first - 1}` },
      body: blob.slice(at, at + first),
    });
    expect(res, 202, "PATCH");
    path = location(res);
  }
  const acked = 2 * first;
  // The PUT carries the last 48 MiB, appended at its offset; the commit then claims the
  // session's final size (`claim-<size>`), renames `data` to `sealed`, fsyncs it and links it
  // into blobs/ (lib/storage/fs/uploads.ts). Kill the server as soon as the commit has started.
  const sessionDir = join(root, "uploads", id);
  const committing = () =>
    existsSync(join(sessionDir, `claim-${blob.size}`)) || existsSync(join(sessionDir, "sealed"));
  assert.ok(!committing(), "no commit in progress before the PUT");
  const request = new RawRequest(
    server!.port,
    `PUT ${withDigest(path, blob.digest)} HTTP/1.1\r\nHost: 127.0.0.1:${server!.port}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Range: ${acked}-${blob.size - 1}\r\n` +
      `Content-Length: ${blob.size - acked}\r\n\r\n`,
  );
  for (let at = acked; at < blob.size; at += 4 * MiB) {
    assert.ok(await request.write(blob.slice(at, at + 4 * MiB)), "connection open");
  }
  const deadline = Date.now() + 30_000;
  let seen = false;
  while (Date.now() < deadline && request.status() === undefined) {
    if (committing()) {
      seen = true;
      break;
    }
    await new Promise((done) => setTimeout(done, 0));
  }
  assert.ok(seen, `caught the commit in progress (answer: ${JSON.stringify(request.answer)})`);
  await killServer();
  await request.closed;
  assert.equal(request.status(), undefined, "the PUT was not acknowledged");
  auditRoot();

  server = await startServer();
  await assertAcknowledged();
  const present = await assertNoPartialBlob(
    "crash/commit",
    blob.digest,
    blob.size,
    "the blob being committed",
  );
  const status = await call("GET", path);
  if (status.status === 204) {
    // The session is still there: with the two acknowledged chunks, and the last one if its
    // append finished before the kill.
    const size = Number(/^0-(\d+)$/.exec(status.headers.get("Range") ?? "")?.[1]) + 1;
    assert.ok(size === acked || size === blob.size, `session size ${size} is whole chunks`);
    assert.ok(existsSync(join(root, "uploads", id)), "the session directory is still there");
    const res = await call(
      "PUT",
      withDigest(location(status), blob.digest),
      size < blob.size
        ? {
          headers: { "Content-Range": `${size}-${blob.size - 1}` },
          body: blob.slice(size, blob.size),
        }
        : {},
    );
    expect(res, 201, "PUT again after the restart");
  } else {
    // The commit had finished its work (the blob is whole), only the answer was lost.
    expect(status, 404, "GET the session");
    assert.ok(present, "a session is gone only once its blob is stored");
  }
  ackedBlobs.push({ repo: "crash/commit", digest: blob.digest, size: blob.size });
  await assertBlob("crash/commit", blob.digest, blob.size, "the committed blob");
  // Starting over from scratch works too (the content is stored once; this is a no-op).
  const again = await call("POST", "/v2/crash/again/blobs/uploads/");
  let againPath = location(again);
  for (let at = 0; at < blob.size; at += 16 * MiB) {
    const to = Math.min(blob.size, at + 16 * MiB);
    const res = await call("PATCH", againPath, {
      headers: { "Content-Range": `${at}-${to - 1}` },
      body: blob.slice(at, to),
    });
    expect(res, 202, "PATCH from scratch");
    againPath = location(res);
  }
  expect(await call("PUT", withDigest(againPath, blob.digest)), 201, "PUT from scratch");
  ackedBlobs.push({ repo: "crash/again", digest: blob.digest, size: blob.size });
  await assertAcknowledged();
  assert.deepEqual(auditRoot(), [], "no tag locks left");
});

test("kill -9 during a burst of manifest and tag pushes: every 201 survives, tags stay usable", async () => {
  const repo = "crash/tags";
  const config = utf8(JSON.stringify({ architecture: "arm64", os: "linux" }));
  const configDigest = await pushBlob(repo, config);
  const manifests = Array.from({ length: 400 }, (_, i) =>
    utf8(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, configDigest, config.length),
      layers: [],
      annotations: { n: String(i) },
    })));
  const acked: number[] = [];
  const refused: string[] = [];
  let next = 0;
  let killed = false;
  let failure: unknown;
  const url = server!.url;
  const worker = async () => {
    while (!killed && next < manifests.length) {
      const i = next++;
      // Each manifest gets its own tag, and moves the shared tag `t<i % 8>`.
      for (const tag of [`m${i}`, `t${i % 8}`]) {
        let res: Response;
        try {
          res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
            method: "PUT",
            headers: { "Content-Type": OCI_MANIFEST },
            body: manifests[i] as BodyInit,
          });
          await res.arrayBuffer();
        } catch (error) {
          // A request cut by the kill fails; any other failure is the server's.
          if (!killed) failure ??= error;
          return;
        }
        if (res.status !== 201) refused.push(`PUT ${tag}: ${res.status}`);
        else if (tag.startsWith("m")) acked.push(i);
      }
    }
  };
  const workers = Array.from({ length: 6 }, worker);
  const deadline = Date.now() + 30_000;
  while (acked.length < 60 && failure === undefined && Date.now() < deadline) await sleep(2);
  assert.equal(failure, undefined, "no request failed before the kill");
  assert.ok(acked.length >= 60, `60 manifests acknowledged in time (${acked.length})`);
  killed = true;
  const killing = killServer();
  await Promise.all(workers);
  await killing;
  assert.deepEqual(refused, [], "every answer before the kill was 201");
  assert.ok(next < manifests.length, "killed in the middle of the burst");
  const locks = auditRoot();

  server = await startServer();
  await assertAcknowledged();
  for (const i of acked) {
    const res = await call("GET", `/v2/${repo}/manifests/m${i}`, {
      headers: { Accept: OCI_MANIFEST },
    });
    expect(res, 200, `acknowledged tag m${i}`);
    assert.deepEqual(res.body, manifests[i], `m${i}: exact bytes`);
  }
  // Every shared tag names one of the manifests pushed to it.
  for (let t = 0; t < 8; t++) {
    const res = await call("GET", `/v2/${repo}/manifests/t${t}`, {
      headers: { Accept: OCI_MANIFEST },
    });
    if (res.status === 404) continue; // never acknowledged
    expect(res, 200, `t${t}`);
    const n = Number((JSON.parse(res.text) as { annotations: { n: string } }).annotations.n);
    assert.equal(n % 8, t, `t${t} names a manifest pushed to it`);
  }
  // A lock the kill left behind does not block its tag: every shared tag, and every tag whose
  // update was cut, can be moved at once (the dead holder's lock is broken).
  const left = new Map(
    locks.map((path) => [path.slice(path.lastIndexOf(".lock-") + 6), readFileSync(path, "utf8")]),
  );
  const slow: string[] = [];
  for (const tag of new Set([...Array.from({ length: 8 }, (_, t) => `t${t}`), ...left.keys()])) {
    const t0 = Date.now();
    const res = await call("PUT", `/v2/${repo}/manifests/${tag}`, {
      headers: { "Content-Type": OCI_MANIFEST },
      body: manifests[0],
    });
    expect(res, 201, `PUT ${tag} after the restart`);
    const took = Date.now() - t0;
    if (took > 3000) {
      slow.push(`${tag}: ${took} ms, lock left holding ${JSON.stringify(left.get(tag) ?? null)}`);
    }
  }
  assert.deepEqual(slow, [], "a tag whose update the kill cut is usable at once after a restart");
  assert.deepEqual(auditRoot(), [], "no tag locks left once their tags were used");
  await killServer();
});

test.run();
