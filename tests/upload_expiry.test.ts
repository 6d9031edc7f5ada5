/**
 * Upload expiry has one owner, the registry handler: a session created more than `uploadTtlMs`
 * ago is 404 BLOB_UPLOAD_UNKNOWN on every session route, the handler calls `uploads.purge` now
 * and then (and a failing purge is logged, never answered), and no adapter expires or purges
 * anything on its own.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { createRegistry, type Registry } from "../lib/registry.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { memoryStorage } from "../lib/storage/memory.ts";

const encoder = new TextEncoder();
const X_DIGEST = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";

async function call(registry: Registry, method: string, path: string, body?: string) {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = encoder.encode(body);
  return await registry.fetch(new Request(`http://registry.test${path}`, init));
}

async function expectUnknown(res: Response, what: string): Promise<void> {
  assert.equal(res.status, 404, `${what}: status`);
  if (res.body === null) return; // HEAD
  const { errors } = await res.json() as { errors: { code: string }[] };
  assert.equal(errors[0].code, "BLOB_UPLOAD_UNKNOWN", `${what}: code`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A memory storage whose `uploads.purge` calls are recorded (and may be made to fail). */
function spied(fail = false) {
  const storage = memoryStorage();
  const calls: number[] = [];
  const purge = storage.uploads.purge;
  storage.uploads.purge = (before: number) => {
    calls.push(before);
    return fail ? Promise.reject(new Error("purge failed")) : purge(before);
  };
  return { storage, calls };
}

const expiry = suite("upload expiry: the handler owns it");

expiry(
  "a session older than uploadTtlMs is 404 BLOB_UPLOAD_UNKNOWN on every session route",
  async () => {
    const storage = memoryStorage();
    const r = createRegistry({ storage, uploadTtlMs: 20 });
    const young = createRegistry({ storage, uploadTtlMs: 60_000 });
    const sessions: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(r, "POST", "/v2/a/blobs/uploads/");
      assert.equal(res.status, 202);
      sessions.push(res.headers.get("Location")!);
    }
    await call(r, "PATCH", sessions[0], "x"); // some bytes received
    await sleep(40);
    // The same sessions through a registry with a longer TTL: still known (the storage kept them).
    assert.equal((await call(young, "GET", sessions[0])).headers.get("Range"), "0-0");
    await expectUnknown(await call(r, "GET", sessions[0]), "GET");
    await expectUnknown(await call(r, "HEAD", sessions[1]), "HEAD");
    await expectUnknown(await call(r, "PATCH", sessions[2], "x"), "PATCH");
    await expectUnknown(await call(r, "PUT", `${sessions[3]}?digest=${X_DIGEST}`, "x"), "PUT");
    await expectUnknown(await call(r, "DELETE", sessions[4]), "DELETE");
    // Nothing was written, completed or stored by the refused requests.
    assert.equal((await call(young, "GET", sessions[2])).headers.get("Range"), "0-0");
    assert.equal((await call(young, "HEAD", `/v2/a/blobs/${X_DIGEST}`)).status, 404);
    // The refused DELETE dropped its expired session.
    await expectUnknown(await call(young, "GET", sessions[4]), "DELETE dropped it");
  },
);

expiry("a session younger than uploadTtlMs works as usual", async () => {
  const r = createRegistry({ uploadTtlMs: 60_000 });
  const res = await call(r, "POST", "/v2/a/blobs/uploads/");
  const location = res.headers.get("Location")!;
  assert.equal((await call(r, "PATCH", location, "x")).status, 202);
  assert.equal((await call(r, "PUT", `${location}?digest=${X_DIGEST}`)).status, 201);
});

expiry(
  "the handler calls uploads.purge with now - uploadTtlMs when sessions start, now and then",
  async () => {
    const { storage, calls } = spied();
    const ttl = 60_000;
    const r = createRegistry({ storage, uploadTtlMs: ttl });
    assert.deepEqual(calls, [], "no purge before any request: no timer");
    const before = Date.now();
    const first = await call(r, "POST", "/v2/a/blobs/uploads/");
    const after = Date.now();
    assert.equal(first.status, 202);
    assert.equal(calls.length, 1);
    assert.ok(calls[0] >= before - ttl && calls[0] <= after - ttl, "cut-off is now - uploadTtlMs");
    await call(r, "POST", "/v2/a/blobs/uploads/");
    await call(r, "GET", first.headers.get("Location")!);
    assert.equal(calls.length, 1, "not again within the purge interval");
    // Reads and other routes never purge.
    const other = spied();
    const reader = createRegistry({ storage: other.storage });
    await call(reader, "GET", "/v2/a/tags/list");
    await call(reader, "GET", "/v2/_catalog");
    assert.deepEqual(other.calls, []);
  },
);

expiry("a failing purge is logged, and the session still starts", async () => {
  const { storage, calls } = spied(true);
  const logged: unknown[] = [];
  const r = createRegistry({ storage, logger: { error: (e) => logged.push(e) } });
  const res = await call(r, "POST", "/v2/a/blobs/uploads/");
  assert.equal(res.status, 202);
  await sleep(10);
  assert.equal(calls.length, 1);
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]), /purge failed/);
});

expiry("expired sessions are purged from storage by the handler", async () => {
  const storage = memoryStorage();
  const r = createRegistry({ storage, uploadTtlMs: 20 });
  const old = await call(r, "POST", "/v2/a/blobs/uploads/"); // purges nothing yet
  const id = old.headers.get("Docker-Upload-UUID")!;
  await sleep(40);
  // A new registry (its purge interval not started) purges on its first session start.
  const next = createRegistry({ storage, uploadTtlMs: 20 });
  await call(next, "POST", "/v2/a/blobs/uploads/");
  await sleep(10);
  assert.equal(await storage.uploads.get("a", id), undefined);
});

expiry.run();

const adapters = suite("upload expiry: adapters have no TTL or timer of their own");

adapters("fsStorage keeps an aged session until purge is called", async () => {
  const root = mkdtempSync(join(tmpdir(), "fetch-registry-expiry-"));
  try {
    const u = await fsStorage({ root }).uploads.create("a", { algorithm: "sha256" });
    const info = join(root, "uploads", u.id, "info.json");
    writeFileSync(
      info,
      JSON.stringify({ ...JSON.parse(readFileSync(info, "utf8")), createdAt: 1 }),
    );
    // A new adapter reads the aged session from disk.
    const later = fsStorage({ root });
    await later.uploads.create("a", { algorithm: "sha256" }); // fsStorage used to purge here
    await sleep(30);
    assert.equal((await later.uploads.get("a", u.id))?.createdAt, 1, "still there");
    assert.equal(await later.uploads.purge(Date.now() - 60_000), 1, "purge removes it");
    assert.equal(await later.uploads.get("a", u.id), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

adapters("memoryStorage keeps sessions until purge is called", async () => {
  const storage = memoryStorage();
  const u = await storage.uploads.create("a", { algorithm: "sha256" });
  await sleep(30);
  assert.ok(await storage.uploads.get("a", u.id));
  assert.equal(await storage.uploads.purge(u.createdAt), 0, "created at the cut-off: kept");
  assert.equal(await storage.uploads.purge(Date.now() + 1), 1);
});

adapters.run();
