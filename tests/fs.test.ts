/**
 * fsStorage: the storage contract and the HTTP protocol suite in temporary directories, plus what
 * only a filesystem adapter has: restarts, two adapters on one root, expiry, stale locks and
 * temporary files, path-escape attempts, concurrent commits of the same blob and tag.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { createRegistry } from "../lib/registry.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { type Claim, claimOffset } from "../lib/storage/fs/upload_claims.ts";
import { type FullStorage, type Storage, UploadOffsetError } from "../lib/storage/types.ts";
import { protocolSuite } from "./protocol/mod.ts";
import {
  assertBytes,
  bytesOf,
  chunksOf,
  manifestOf,
  pushBlob,
  readAll,
} from "../lib/testing/contract_support.ts";
import { digestOf } from "../lib/testing/content.ts";
import { storageContract } from "../lib/testing/storage_contract.ts";

/** Every root of this run lives under one directory, removed when the process exits. */
const base = mkdtempSync(join(tmpdir(), "fetch-registry-fs-test-"));
process.on("exit", () => rmSync(base, { recursive: true, force: true }));

const roots = new WeakMap<Storage, string>();
let counter = 0;

function newRoot(): string {
  const root = join(base, `root-${++counter}`);
  mkdirSync(root);
  return root;
}

function makeFs(): FullStorage {
  const root = newRoot();
  const storage = fsStorage({ root });
  roots.set(storage, root);
  return storage;
}

async function cleanup(storage: Storage): Promise<void> {
  const root = roots.get(storage);
  if (root) rmSync(root, { recursive: true, force: true });
}

const contract = suite("fs storage contract");
storageContract("fs", makeFs, {
  test: contract,
  cleanup: (storage) => cleanup(storage as Storage),
});
contract.run();
protocolSuite("fs", makeFs);

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const test = suite("fs storage: restarts, processes, expiry, locks, paths");

test("restart: a new adapter on the same root continues an upload session", async () => {
  const root = newRoot();
  const bytes = bytesOf(300_000, 31);
  const a = fsStorage({ root });
  const u = await a.uploads.create("lib/x", { algorithm: "sha256" });
  await a.uploads.append("lib/x", u.id, 0, chunksOf(bytes.subarray(0, 100_000)));
  await a.close?.();
  const b = fsStorage({ root });
  assert.deepEqual(await b.uploads.get("lib/x", u.id), { ...u, size: 100_000 });
  assert.deepEqual(
    await readAll((await b.uploads.read("lib/x", u.id))!),
    bytes.subarray(0, 100_000),
  );
  await assert.rejects(
    b.uploads.append("lib/x", u.id, 0, chunksOf(bytes)),
    (e: unknown) => e instanceof UploadOffsetError && e.size === 100_000,
  );
  await b.uploads.append("lib/x", u.id, 100_000, chunksOf(bytes.subarray(100_000)));
  const d = digestOf(bytes);
  assert.deepEqual(await b.uploads.commit("lib/x", u.id, d), { digest: d, size: 300_000 });
  await b.close?.();
  const c = fsStorage({ root });
  assertBytes(await readAll((await c.blobs.read("lib/x", d))!), bytes);
});

test("restart: through the handler, GET status then PATCH on, and the blob verifies", async () => {
  const root = newRoot();
  const bytes = bytesOf(200_000, 32);
  const first = createRegistry({ storage: fsStorage({ root }) });
  const post = await first.fetch(
    new Request("http://r/v2/a/b/blobs/uploads/", { method: "POST" }),
  );
  assert.equal(post.status, 202);
  const location = post.headers.get("Location")!;
  const patch = await first.fetch(
    new Request(`http://r${location}`, {
      method: "PATCH",
      body: bytes.slice(0, 80_000),
      headers: { "Content-Range": "0-79999" },
    }),
  );
  assert.equal(patch.status, 202);
  // "Restart": a new registry and a new adapter, no hash state carried over.
  const second = createRegistry({ storage: fsStorage({ root }) });
  const status = await second.fetch(new Request(`http://r${location}`));
  assert.equal(status.status, 204);
  assert.equal(status.headers.get("Range"), "0-79999");
  const digest = digestOf(bytes);
  const put = await second.fetch(
    new Request(`http://r${location}?digest=${digest}`, {
      method: "PUT",
      body: bytes.slice(80_000),
      headers: { "Content-Range": `80000-${bytes.byteLength - 1}` },
    }),
  );
  assert.equal(put.status, 201);
  const third = createRegistry({ storage: fsStorage({ root }) });
  const get = await third.fetch(new Request(`http://r/v2/a/b/blobs/${digest}`));
  assert.equal(get.status, 200);
  assertBytes(new Uint8Array(await get.arrayBuffer()), bytes);
});

test("restart: manifests, tags and referrers persist", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const subject = manifestOf({ image: 1 });
  const ref = manifestOf({ sig: 1 }, subject.digest);
  await a.manifests.put("r", subject);
  await a.manifests.put("r", ref);
  await a.tags.set("r", "Latest", subject.digest);
  const b = fsStorage({ root });
  assert.deepEqual((await b.manifests.get("r", subject.digest))?.bytes, subject.bytes);
  assert.equal(await b.tags.get("r", "Latest"), subject.digest);
  assert.deepEqual(await b.manifests.referrers("r", subject.digest), [ref.referrer]);
  assert.deepEqual(await b.repositories({ limit: 10 }), { items: ["r"], more: false });
});

test("two adapters on one root: one appends, the other commits; same-offset race", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const b = fsStorage({ root });
  const bytes = bytesOf(50_000, 33);
  const u = await a.uploads.create("p", { algorithm: "sha256" });
  await b.uploads.append("p", u.id, 0, chunksOf(bytes.subarray(0, 20_000)));
  assert.equal((await a.uploads.get("p", u.id))?.size, 20_000);
  // Both adapters append at offset 20000 at once: the link of seg-20000 decides, exactly one wins.
  const x = bytesOf(1000, 34);
  const y = bytesOf(2000, 35);
  const results = await Promise.allSettled([
    a.uploads.append("p", u.id, 20_000, chunksOf(x)),
    b.uploads.append("p", u.id, 20_000, chunksOf(y)),
  ]);
  const won = results.findIndex((r) => r.status === "fulfilled");
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const lost = results[1 - won] as PromiseRejectedResult;
  assert.ok(lost.reason instanceof UploadOffsetError);
  const tail = won === 0 ? x : y;
  const size = 20_000 + tail.byteLength;
  assert.equal((await b.uploads.get("p", u.id))?.size, size);
  const all = new Uint8Array(size);
  all.set(bytes.subarray(0, 20_000));
  all.set(tail, 20_000);
  const d = digestOf(all);
  assert.deepEqual(await a.uploads.commit("p", u.id, d), { digest: d, size });
  assertBytes(await readAll((await b.blobs.read("p", d))!), all);
  assert.equal(await b.uploads.get("p", u.id), undefined);
});

test("concurrent commits of the same blob (two adapters) both succeed, stored once", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const b = fsStorage({ root });
  const bytes = bytesOf(400_000, 36);
  const d = digestOf(bytes);
  const sessions = [];
  for (const [s, repo, pieces] of [[a, "one", 1], [b, "two", 3], [a, "three", 2]] as const) {
    const u = await s.uploads.create(repo, { algorithm: "sha256" });
    const step = Math.ceil(bytes.byteLength / pieces);
    for (let off = 0; off < bytes.byteLength; off += step) {
      await s.uploads.append(repo, u.id, off, chunksOf(bytes.subarray(off, off + step)));
    }
    sessions.push({ s, repo, id: u.id });
  }
  const infos = await Promise.all(sessions.map((x) => x.s.uploads.commit(x.repo, x.id, d)));
  for (const info of infos) assert.deepEqual(info, { digest: d, size: bytes.byteLength });
  for (const repo of ["one", "two", "three"]) {
    assertBytes(await readAll((await b.blobs.read(repo, d))!), bytes);
  }
  const hex = d.slice(7);
  assert.deepEqual(filesUnder(join(root, "blobs")), [
    "sha256",
    join("sha256", hex.slice(0, 2)),
    join("sha256", hex.slice(0, 2), hex),
  ]);
  assert.deepEqual(filesUnder(join(root, "uploads")), []);
});

test("concurrent sets of the same tag (two adapters) all succeed; one value; no locks left", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const b = fsStorage({ root });
  const digests = [1, 2, 3, 4, 5, 6, 7, 8].map((v) => manifestOf({ v }).digest);
  const results = await Promise.all(
    digests.map((d, i) => (i % 2 ? a : b).tags.set("t", "latest", d)),
  );
  assert.deepEqual(results, digests.map(() => true));
  const final = await a.tags.get("t", "latest");
  assert.ok(digests.includes(final!));
  assert.equal(await b.tags.get("t", "latest"), final);
  assert.deepEqual(readdirSync(join(root, "repositories", "t", "_tags")), ["latest"]);
  // And compare-and-swap across adapters: exactly one of many wins.
  const cas = await Promise.all(
    digests.map((d, i) => (i % 2 ? a : b).tags.set("t", "once", d, null)),
  );
  assert.equal(cas.filter(Boolean).length, 1);
});

test("a lock left by a dead process is broken at once; an old one too", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const m = manifestOf({ v: 1 });
  const tags = join(root, "repositories", "l", "_tags");
  mkdirSync(tags, { recursive: true });
  // A pid that is not running on this host (pids are below 2^22 on Linux).
  writeFileSync(join(tags, ".lock-dead"), `${2 ** 22 + 12345} ${hostname()}`);
  const started = Date.now();
  assert.equal(await s.tags.set("l", "dead", m.digest), true);
  assert.ok(Date.now() - started < 5000, "did not wait for the lock to age");
  // A lock whose holder looks alive (another host) but is far too old.
  writeFileSync(join(tags, ".lock-old"), `1 some-other-host`);
  const old = (Date.now() - 10 * 60 * 1000) / 1000;
  utimesSync(join(tags, ".lock-old"), old, old);
  assert.equal(await s.tags.set("l", "old", m.digest), true);
  assert.deepEqual(readdirSync(tags).sort(), ["dead", "old"]);
});

test("expiry is the registry's: an aged session is 404 there, kept on disk until purged", async () => {
  const root = newRoot();
  const ttl = 60_000;
  const s = fsStorage({ root });
  const u = await s.uploads.create("e", { algorithm: "sha256" });
  await s.uploads.append("e", u.id, 0, chunksOf(bytesOf(1000)));
  // Age the session on disk instead of waiting for it (no timing to race with on a busy machine),
  // and look at it through a new adapter, which has not seen it yet.
  const dir = join(root, "uploads", u.id);
  const info = join(dir, "info.json");
  writeFileSync(info, JSON.stringify({ ...JSON.parse(readFileSync(info, "utf8")), createdAt: 1 }));
  const later = fsStorage({ root });
  const aged = await later.uploads.get("e", u.id);
  assert.deepEqual([aged?.createdAt, aged?.size], [1, 1000], "the adapter has no TTL of its own");
  const registry = createRegistry({ storage: later, uploadTtlMs: ttl });
  const status = await registry.fetch(new Request(`http://r/v2/e/blobs/uploads/${u.id}`));
  assert.equal(status.status, 404);
  assert.equal((await status.json()).errors[0].code, "BLOB_UPLOAD_UNKNOWN");
  assert.ok(existsSync(dir), "still on disk until purged");
  // Starting a session makes the registry purge, in the background: wait for it (up to 5 s).
  const started = await registry.fetch(
    new Request("http://r/v2/e/blobs/uploads/", { method: "POST" }),
  );
  assert.equal(started.status, 202);
  for (let i = 0; i < 250 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(dir), false);
  assert.equal(await later.uploads.purge(Date.now() - ttl), 0, "already purged");
  const fresh = started.headers.get("Docker-Upload-UUID")!;
  assert.equal((await later.uploads.get("e", fresh))?.size, 0, "the young session stays");
});

test("purge takes a cut-off: sessions created before it go, younger ones stay", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const u = await s.uploads.create("e", { algorithm: "sha256" });
  assert.ok(await s.uploads.get("e", u.id));
  assert.equal(await s.uploads.purge(u.createdAt), 0);
  assert.ok(existsSync(join(root, "uploads", u.id)));
  assert.equal(await s.uploads.purge(Date.now() + 1), 1);
  assert.equal(existsSync(join(root, "uploads", u.id)), false);
});

test("purge removes temporary files a crash left behind, not fresh ones", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  await pushBlob(s, "t", bytesOf(10)); // creates tmp/
  const tmp = join(root, "tmp");
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, "crashed"), "partial");
  mkdirSync(join(tmp, "session-crashed"));
  const old = (Date.now() - 2 * 60 * 60 * 1000) / 1000;
  utimesSync(join(tmp, "crashed"), old, old);
  utimesSync(join(tmp, "session-crashed"), old, old);
  writeFileSync(join(tmp, "in-progress"), "partial");
  await s.uploads.purge!(Date.now());
  assert.deepEqual(readdirSync(tmp), ["in-progress"]);
});

test("a failed append leaves no file behind; nothing partial is ever a blob", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const u = await s.uploads.create("f", { algorithm: "sha256" });
  await s.uploads.append("f", u.id, 0, chunksOf(bytesOf(100)));
  async function* broken() {
    yield bytesOf(100_000, 2);
    throw new Error("connection reset");
  }
  await assert.rejects(s.uploads.append("f", u.id, 100, broken()), /connection reset/);
  assert.deepEqual(readdirSync(join(root, "uploads", u.id)).sort(), ["data", "info.json", "size"]);
  assert.equal(readFileSync(join(root, "uploads", u.id, "size"), "utf8"), "100");
  assert.equal(existsSync(join(root, "blobs")), false);
});

test("unlinking a blob while it is being read does not break the read", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const bytes = bytesOf(2 * 1024 * 1024, 37);
  const d = await pushBlob(s, "u", bytes);
  const body = await s.blobs.read("u", d);
  assert.ok(body);
  assert.equal(await s.blobs.unlink("u", d), true);
  assert.equal(await s.blobs.read("u", d), undefined);
  assertBytes(await readAll(body), bytes);
});

test("reads: Bun gets a Bun.file slice (sendfile, Content-Length); others a stream", async () => {
  const s = makeFs();
  const bytes = bytesOf(700_000, 38);
  const d = await pushBlob(s, "b", bytes);
  const whole = await s.blobs.read("b", d);
  const part = await s.blobs.read("b", d, { start: 1000, end: 600_999 });
  if ("Bun" in globalThis) {
    assert.ok(whole instanceof Blob && part instanceof Blob);
    assert.equal(whole.size, 700_000);
    assert.equal(part.size, 600_000);
  } else {
    assert.ok(whole instanceof ReadableStream && part instanceof ReadableStream);
  }
  assertBytes(await readAll(part!), bytes.subarray(1000, 601_000));
  await readAll(whole!);
  await cleanup(s);
});

test("paths: invalid names, tags, digests and ids are refused before any path is built", async () => {
  const root = newRoot();
  const outside = join(root, "..", `outside-${counter}`);
  mkdirSync(outside);
  const s = fsStorage({ root: join(root, "store") });
  const ok = manifestOf({ v: 1 });
  const sha = "a".repeat(64);
  const badNames = [
    "",
    ".",
    "..",
    "../x",
    "a/../../x",
    "a/./b",
    "/etc",
    "a//b",
    "a/",
    "A",
    "a\\..\\x",
    "a/_links",
    "_manifests",
    "a\u0000b",
    `../outside-${counter}`,
  ];
  const badTags = ["..", ".", "../x", "a/b", ".hidden", "-x", "a\\b", "x".repeat(129), ""];
  const badDigests = [
    "sha256:../../x",
    `sha256:${sha.toUpperCase()}`,
    "sha256:abc",
    `md5:${sha}`,
    `sha256/${sha}`,
    `../sha256:${sha}`,
    "",
  ];
  const badIds = ["..", ".", "../x", "a/b", "a\\b", "", "x".repeat(129), "%2e%2e"];
  const refused = (p: Promise<unknown>) => assert.rejects(p, TypeError);
  for (const name of badNames) {
    await refused(s.blobs.stat(name, ok.digest));
    await refused(s.blobs.read(name, ok.digest));
    await refused(s.blobs.link(name, ok.digest));
    await refused(s.blobs.unlink(name, ok.digest));
    await refused(s.uploads.create(name, { algorithm: "sha256" }));
    await refused(s.uploads.get(name, "abcdefgh"));
    await refused(s.manifests.put(name, ok));
    await refused(s.manifests.get(name, ok.digest));
    await refused(s.manifests.delete(name, ok.digest));
    await refused(s.manifests.referrers(name, ok.digest));
    await refused(s.tags.get(name, "latest"));
    await refused(s.tags.set(name, "latest", ok.digest));
    await refused(s.tags.delete(name, "latest"));
    await refused(s.tags.list(name, { limit: 10 }));
  }
  for (const tag of badTags) {
    await refused(s.tags.get("a", tag));
    await refused(s.tags.set("a", tag, ok.digest));
    await refused(s.tags.set("a", tag, ok.digest, null));
    await refused(s.tags.delete("a", tag));
  }
  for (const digest of badDigests) {
    await refused(s.blobs.stat("a", digest));
    await refused(s.blobs.read("a", digest));
    await refused(s.blobs.link("a", digest));
    await refused(s.blobs.unlink("a", digest));
    await refused(s.manifests.get("a", digest));
    await refused(s.manifests.put("a", { ...ok, digest }));
    if (digest) await refused(s.manifests.put("a", manifestOf({ v: 2 }, digest))); // as subject
    await refused(s.manifests.delete("a", digest));
    await refused(s.manifests.referrers("a", digest));
    await refused(s.tags.set("a", "latest", digest));
  }
  const u = await s.uploads.create("a", { algorithm: "sha256" });
  for (const id of badIds) {
    await refused(s.uploads.get("a", id));
    await refused(s.uploads.append("a", id, 0, chunksOf(bytesOf(1))));
    await refused(s.uploads.read("a", id));
    await refused(s.uploads.commit("a", id, digestOf(bytesOf(1))));
    await refused(s.uploads.cancel("a", id));
  }
  for (const digest of badDigests) await refused(s.uploads.commit("a", u.id, digest));
  assert.deepEqual(readdirSync(outside), [], "nothing written outside the root");
  assert.deepEqual(filesUnder(join(root, "store", "repositories")), []);
  assert.ok((await s.uploads.get("a", u.id)) !== undefined, "the valid session is untouched");
  // The repository listing never reports a directory that is no valid name.
  mkdirSync(join(root, "store", "repositories", "Bad..Name", "_manifests"), { recursive: true });
  writeFileSync(join(root, "store", "repositories", "Bad..Name", "_manifests", "x"), "");
  assert.deepEqual(await s.repositories({ limit: 10 }), { items: [], more: false });
  assert.equal(readFileSync(join(root, "store", "uploads", u.id, "info.json")).length > 0, true);
});

test.run();

// ---- upload sessions: one file written in place, offset claims, commit ------------------------

const claims = suite("fs uploads: offset claims, crashes and commits");

/** A session of `size` bytes in `s` (repository "c"); answers its id and directory. */
async function sessionOf(s: ReturnType<typeof fsStorage>, root: string, bytes: Uint8Array) {
  const u = await s.uploads.create("c", { algorithm: "sha256" });
  if (bytes.byteLength) await s.uploads.append("c", u.id, 0, chunksOf(bytes));
  return { id: u.id, dir: join(root, "uploads", u.id) };
}

/** Content of a claim file: pid, host, process instance, nonce, kind. */
function claimText(pid: number, host: string, instance = "gone-instance", kind = "append") {
  return `${pid} ${host} ${instance} ${randomUUID().replaceAll("-", "")} ${kind}`;
}

/** A pid that is not running on this host (pids are below 2^22 on Linux). */
const DEAD_PID = 2 ** 22 + 12345;

claims("a claim whose holder is gone is broken at once; a live holder's is respected", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const bytes = bytesOf(700, 40);
  const { id, dir } = await sessionOf(s, root, bytes.subarray(0, 100));
  const claim = join(dir, "claim-100");
  // Left by a process that no longer runs on this host.
  writeFileSync(claim, claimText(DEAD_PID, hostname()));
  const started = Date.now();
  assert.equal(
    (await s.uploads.append("c", id, 100, chunksOf(bytes.subarray(100, 200))))?.size,
    200,
  );
  assert.ok(Date.now() - started < 5000, "did not wait for the claim to age");
  // Left by an earlier process that had this process's pid (a restarted container's pid 1).
  writeFileSync(join(dir, "claim-200"), claimText(process.pid, hostname()));
  assert.equal(
    (await s.uploads.append("c", id, 200, chunksOf(bytes.subarray(200, 300))))?.size,
    300,
  );
  // Held by a live process on this host (our parent): the offset is taken.
  writeFileSync(join(dir, "claim-300"), claimText(process.ppid, hostname()));
  await assert.rejects(
    s.uploads.append("c", id, 300, chunksOf(bytes.subarray(300, 400))),
    (e: unknown) => e instanceof UploadOffsetError && e.size === 300,
  );
  rmSync(join(dir, "claim-300"));
  // Held on another host: respected while fresh, broken once it has not been refreshed for long.
  writeFileSync(join(dir, "claim-300"), claimText(1, "some-other-host"));
  await assert.rejects(
    s.uploads.append("c", id, 300, chunksOf(bytes.subarray(300, 400))),
    (e: unknown) => e instanceof UploadOffsetError && e.size === 300,
  );
  const old = (Date.now() - 10 * 60 * 1000) / 1000;
  utimesSync(join(dir, "claim-300"), old, old);
  assert.equal(
    (await s.uploads.append("c", id, 300, chunksOf(bytes.subarray(300, 400))))?.size,
    400,
  );
  // Not written by this module at all, and old: removed.
  writeFileSync(join(dir, "claim-400"), "garbage");
  utimesSync(join(dir, "claim-400"), old, old);
  assert.equal((await s.uploads.append("c", id, 400, chunksOf(bytes.subarray(400))))?.size, 700);
  assert.deepEqual(readdirSync(dir).sort(), ["data", "info.json", "size"], "no claim left");
  const d = digestOf(bytes);
  assert.deepEqual(await s.uploads.commit("c", id, d), { digest: d, size: 700 });
  assertBytes(await readAll((await s.blobs.read("c", d))!), bytes);
});

claims(
  "breaking a stale claim: one breaker wins; a crashed breaker's link is cleared",
  async () => {
    const root = newRoot();
    const dir = join(root, "session");
    mkdirSync(dir);
    const stale = join(dir, "claim-0");
    writeFileSync(stale, claimText(DEAD_PID, hostname()));
    // Many contenders at once, in this process: exactly one gets the claim.
    const results = await Promise.all(
      Array.from({ length: 8 }, () => claimOffset(dir, 0, "append")),
    );
    const won = results.filter((r) => "release" in r);
    assert.equal(won.length, 1, "exactly one claim");
    for (const r of results) {
      if (!("release" in r)) assert.equal(r.missing, false);
    }
    await (won[0] as Claim).release();
    assert.deepEqual(readdirSync(dir), [], "no claim, pending or broken file left");
    // A breaker that crashed between its two steps left `claim-0.broken-<nonce>` behind.
    writeFileSync(stale, claimText(DEAD_PID, hostname()));
    const nonce = readFileSync(stale, "utf8").split(" ")[3];
    linkSync(stale, `${stale}.broken-${nonce}`);
    const busy = await claimOffset(dir, 0, "append");
    assert.ok(
      !("release" in busy) && !busy.missing,
      "busy while the breaker might still be at work",
    );
    await sleep(20);
    const claim = await claimOffset(dir, 0, "commit", { breakGraceMs: 10 });
    assert.ok("release" in claim, "broken once the breaker's link is older than the grace");
    assert.match(readFileSync(stale, "utf8"), / commit$/);
    await claim.release();
    assert.deepEqual(readdirSync(dir), []);
    // A missing directory is reported as such.
    assert.deepEqual(await claimOffset(join(root, "nope"), 0, "append"), { missing: true });
  },
);

claims(
  "a commit while an append is in flight is refused; the append and a commit then work",
  async () => {
    const root = newRoot();
    const s = fsStorage({ root });
    const bytes = bytesOf(50_000, 41);
    const { id } = await sessionOf(s, root, bytes.subarray(0, 10_000));
    let open = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    async function* held() {
      yield bytes.subarray(10_000, 20_000);
      await gate;
      yield bytes.subarray(20_000);
    }
    const append = s.uploads.append("c", id, 10_000, held());
    await sleep(20);
    await assert.rejects(
      s.uploads.commit("c", id, digestOf(bytes.subarray(0, 10_000))),
      (e: unknown) => e instanceof UploadOffsetError && e.size === 10_000,
    );
    // And from another adapter on the same root (another process, as far as the files go).
    await assert.rejects(
      fsStorage({ root }).uploads.commit("c", id, digestOf(bytes.subarray(0, 10_000))),
      (e: unknown) => e instanceof UploadOffsetError,
    );
    open();
    assert.equal((await append)?.size, 50_000);
    const d = digestOf(bytes);
    assert.deepEqual(await s.uploads.commit("c", id, d), { digest: d, size: 50_000 });
    assertBytes(await readAll((await s.blobs.read("c", d))!), bytes);
  },
);

claims("two commits of one session at once (two adapters) both answer the blob", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const b = fsStorage({ root });
  const bytes = bytesOf(3 * 1024 * 1024, 42);
  const { id } = await sessionOf(a, root, bytes);
  const d = digestOf(bytes);
  const infos = await Promise.all([a.uploads.commit("c", id, d), b.uploads.commit("c", id, d)]);
  assert.deepEqual(infos, [{ digest: d, size: bytes.byteLength }, {
    digest: d,
    size: bytes.byteLength,
  }]);
  assertBytes(await readAll((await b.blobs.read("c", d))!), bytes);
  assert.deepEqual(filesUnder(join(root, "uploads")), []);
});

claims("bytes a failed append wrote past the size never reach the blob", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const bytes = bytesOf(1010, 43);
  const { id, dir } = await sessionOf(s, root, bytes.subarray(0, 1000));
  async function* broken() {
    yield bytesOf(300_000, 44);
    await sleep(100); // time for the write to land
    throw new Error("connection reset");
  }
  await assert.rejects(s.uploads.append("c", id, 1000, broken()), /connection reset/);
  assert.ok(statSync(join(dir, "data")).size > 1000, "the failed bytes are in the file");
  assert.equal((await s.uploads.get("c", id))?.size, 1000);
  await s.uploads.append("c", id, 1000, chunksOf(bytes.subarray(1000)));
  assertBytes(await readAll((await s.uploads.read("c", id))!), bytes);
  const d = digestOf(bytes);
  assert.deepEqual(await s.uploads.commit("c", id, d), { digest: d, size: 1010 });
  assertBytes(await readAll((await s.blobs.read("c", d))!), bytes);
  const hex = d.slice(7);
  assert.equal(statSync(join(root, "blobs", "sha256", hex.slice(0, 2), hex)).size, 1010);
});

claims(
  "a commit killed after sealing: appends are refused, the next commit completes",
  async () => {
    const root = newRoot();
    const s = fsStorage({ root });
    const bytes = bytesOf(200_000, 45);
    const { id, dir } = await sessionOf(s, root, bytes);
    // What a commit leaves when killed after sealing: `sealed` instead of `data`, and its claim.
    renameSync(join(dir, "data"), join(dir, "sealed"));
    writeFileSync(join(dir, "claim-200000"), claimText(DEAD_PID, hostname(), "x", "commit"));
    const t = fsStorage({ root }); // "restarted"
    assert.equal((await t.uploads.get("c", id))?.size, 200_000);
    await assert.rejects(
      t.uploads.append("c", id, 200_000, chunksOf(bytesOf(10))),
      (e: unknown) => e instanceof UploadOffsetError && e.size === 200_000,
    );
    // The handler hashes the session again from storage before committing.
    assertBytes(await readAll((await t.uploads.read("c", id))!), bytes);
    const d = digestOf(bytes);
    assert.deepEqual(await t.uploads.commit("c", id, d), { digest: d, size: 200_000 });
    assertBytes(await readAll((await t.blobs.read("c", d))!), bytes);
    assert.deepEqual(filesUnder(join(root, "uploads")), []);
  },
);

claims("a session whose size file a power loss emptied starts over at 0", async () => {
  const root = newRoot();
  const s = fsStorage({ root });
  const { id, dir } = await sessionOf(s, root, bytesOf(5000, 46));
  writeFileSync(join(dir, "size"), "");
  assert.equal((await s.uploads.get("c", id))?.size, 0);
  const bytes = bytesOf(300, 47);
  assert.equal((await s.uploads.append("c", id, 0, chunksOf(bytes)))?.size, 300);
  const d = digestOf(bytes);
  assert.deepEqual(await s.uploads.commit("c", id, d), { digest: d, size: 300 });
  assertBytes(await readAll((await s.blobs.read("c", d))!), bytes);
});

claims.run();
