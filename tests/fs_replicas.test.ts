/**
 * Two fsStorage instances on one root (replicas)
 * see each other's tag and manifest changes through the stat-validated listing cache, and
 * DirCache's rules (settle window, own-write invalidation, epoch) hold.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { DirCache } from "../lib/storage/fs/dir_cache.ts";
import { manifestOf } from "../lib/testing/contract_support.ts";

const base = mkdtempSync(join(tmpdir(), "fetch-registry-replicas-test-"));
process.on("exit", () => rmSync(base, { recursive: true, force: true }));
let counter = 0;
const newRoot = () => join(base, `root-${++counter}`);

/** Pretend `dirs` last changed a minute ago, so listings of them are "settled" and cached. */
function age(...dirs: string[]): void {
  const old = new Date(Date.now() - 60_000);
  for (const d of dirs) utimesSync(d, old, old);
}

const test = suite("fs replicas: listing cache and small-file reads");

test("a replica's tag and manifest changes are seen by the other's cached listing", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const b = fsStorage({ root });
  const repo = join(root, "repositories", "r");
  const m1 = manifestOf({ v: 1 });
  const m2 = manifestOf({ v: 2 });
  await a.manifests.put("r", m1);
  await a.manifests.put("r", m2);
  const names = Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, "0")}`);
  for (const t of names) await a.tags.set("r", t, m1.digest);
  age(join(repo, "_tags"), join(repo, "_manifests"));
  // Fill a's caches (settled), twice (the second is a cache hit).
  assert.deepEqual((await a.tags.list("r", { limit: 100 }))?.items, names);
  assert.deepEqual((await a.tags.list("r", { limit: 100 }))?.items, names);
  // b adds, removes and moves tags: a sees each at once.
  await b.tags.set("r", "new", m2.digest);
  assert.deepEqual((await a.tags.list("r", { after: "t29", limit: 10 }))?.items, []);
  assert.deepEqual((await a.tags.list("r", { limit: 1 }))?.items, ["new"]);
  age(join(repo, "_tags"));
  assert.ok((await a.tags.list("r", { limit: 100 }))?.items.includes("new"));
  await b.tags.delete("r", "t05");
  assert.ok(!(await a.tags.list("r", { limit: 100 }))?.items.includes("t05"));
  assert.equal(await a.tags.get("r", "t06"), m1.digest);
  await b.tags.set("r", "t06", m2.digest);
  assert.equal(await a.tags.get("r", "t06"), m2.digest, "a moved tag is read fresh");
  // b deletes a manifest: a no longer serves it, nor the tags that pointed to it.
  assert.deepEqual((await a.manifests.get("r", m1.digest))?.bytes, m1.bytes);
  age(join(repo, "_tags"), join(repo, "_manifests"));
  assert.equal((await a.tags.list("r", { limit: 100 }))?.items.length, 30);
  assert.equal(await b.manifests.delete("r", m1.digest), true);
  assert.equal(await a.manifests.get("r", m1.digest), undefined);
  assert.equal(await a.tags.get("r", "t00"), undefined);
  assert.deepEqual((await a.tags.list("r", { limit: 100 }))?.items, ["new", "t06"]);
  // b deletes the last manifest: the repository is unknown to a at once.
  age(join(repo, "_manifests"));
  assert.ok(await a.tags.list("r", { limit: 100 }));
  assert.equal(await b.manifests.delete("r", m2.digest), true);
  assert.equal(await a.tags.list("r", { limit: 100 }), undefined);
  assert.deepEqual((await a.repositories({ limit: 10 })).items, []);
});

test("own writes invalidate a settled cache even when the directory stamp cannot tell", async () => {
  const root = newRoot();
  const a = fsStorage({ root });
  const tags = join(root, "repositories", "r", "_tags");
  const m = manifestOf({ v: 1 });
  await a.manifests.put("r", m);
  await a.tags.set("r", "one", m.digest);
  const old = new Date(Date.now() - 60_000);
  utimesSync(tags, old, old);
  assert.deepEqual((await a.tags.list("r", { limit: 10 }))?.items, ["one"]);
  await a.tags.set("r", "two", m.digest);
  utimesSync(tags, old, old); // same mtime as the cached listing's (ctime still moves)
  assert.deepEqual((await a.tags.list("r", { limit: 10 }))?.items, ["one", "two"]);
  await a.tags.delete("r", "one");
  utimesSync(tags, old, old);
  assert.deepEqual((await a.tags.list("r", { limit: 10 }))?.items, ["two"]);
});

test("DirCache: settled listings are reused, unsettled ones never, changes are seen", async () => {
  const dir = join(base, `cache-${++counter}`);
  mkdirSync(dir);
  let builds = 0;
  const cache = new DirCache((names) => {
    builds++;
    return [...names].sort();
  });
  assert.deepEqual(await cache.get(dir), []);
  assert.deepEqual(await cache.get(dir), []);
  assert.equal(builds, 2, "a directory changed just now is read on every call");
  age(dir);
  await cache.get(dir);
  assert.deepEqual(await cache.get(dir), []);
  assert.equal(builds, 3, "settled: read once, then served from the cache");
  writeFileSync(join(dir, "x"), "");
  assert.deepEqual(await cache.get(dir), ["x"], "another writer's change is seen");
  assert.equal(builds, 4);
  age(dir);
  await Promise.all([cache.get(dir), cache.get(dir), cache.get(dir)]);
  assert.equal(builds, 5, "concurrent callers share one read");
  cache.invalidate(dir);
  assert.deepEqual(await cache.get(dir), ["x"]);
  assert.equal(builds, 6, "invalidate forgets");
  assert.equal(await cache.get(join(dir, "missing")), undefined);
});

test("DirCache: a listing that spans this process's own change is not kept", async () => {
  const dir = join(base, `cache-${++counter}`);
  mkdirSync(dir);
  const old = new Date(Date.now() - 60_000);
  utimesSync(dir, old, old);
  let entered: () => void = () => {};
  const inBuild = new Promise<void>((r) => (entered = r));
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let calls = 0;
  const cache = new DirCache(async (names) => {
    if (++calls === 1) {
      entered();
      await gate;
    }
    return [...names].sort();
  });
  const slow = cache.get(dir);
  await inBuild; // the directory has been read (empty)
  writeFileSync(join(dir, "y"), "");
  utimesSync(dir, old, old);
  cache.invalidate(dir); // as a store does after its own change
  const after = cache.get(dir);
  release();
  assert.deepEqual(await slow, [], "the read that started before the change");
  assert.deepEqual(await after, ["y"], "a caller after the change does not join the old read");
  assert.deepEqual(await cache.get(dir), ["y"], "nor is the old read kept");
});

test("DirCache: bounded by entries and by weight; a value over the bound is not kept", async () => {
  const dirs = [1, 2, 3].map((i) => join(base, `weigh-${++counter}-${i}`));
  for (const [i, d] of dirs.entries()) {
    mkdirSync(d);
    for (let k = 0; k <= i; k++) writeFileSync(join(d, `f${k}`), "");
    age(d);
  }
  let builds = 0;
  const cache = new DirCache((names) => {
    builds++;
    return names;
  }, { weigh: (names) => names.length, maxWeight: 3 });
  await cache.get(dirs[0]); // weight 1
  await cache.get(dirs[1]); // weight 2: total 3
  await cache.get(dirs[0]);
  await cache.get(dirs[1]);
  assert.equal(builds, 2, "both kept");
  await cache.get(dirs[2]); // weight 3: evicts both
  await cache.get(dirs[2]);
  assert.equal(builds, 3, "the heaviest fits alone");
  await cache.get(dirs[0]);
  assert.equal(builds, 4, "evicted");
  const big = join(base, `weigh-${++counter}-big`);
  mkdirSync(big);
  for (let k = 0; k < 4; k++) writeFileSync(join(big, `f${k}`), "");
  age(big);
  await cache.get(big);
  await cache.get(big);
  assert.equal(builds, 6, "over the bound: never kept");
});

test.run();
