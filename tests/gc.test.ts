/**
 * Garbage collection (lib/gc) on every adapter with the gc capability (memory, fs): what is kept
 * and what is swept for images, indexes, referrers, shared layers, mounts and untagged manifests;
 * the grace period; dry runs; a manifest PUT between mark and sweep; a chunked upload straddling
 * a collection; a crash mid-removal; the lease.
 *
 * @module
 */
import { mkdtempSync, promises as fsp, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { collectGarbage, GcBusyError } from "../lib/gc/mod.ts";
import { createRegistry } from "../lib/registry.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import type { CollectableStorage, ManifestRecord } from "../lib/storage/types.ts";
import { chunksOf, pushBlob } from "../lib/testing/contract_support.ts";
import { digestOf } from "../lib/testing/content.ts";
import { MEDIA_TYPES } from "../lib/testing/media_types.ts";

const encoder = new TextEncoder();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh storage and how to clean it up. */
type Factory = () => { storage: CollectableStorage; cleanup: () => void; root?: string };

const ADAPTERS: [string, Factory][] = [
  ["memory", () => ({ storage: memoryStorage(), cleanup: () => {} })],
  ["fs", () => {
    const root = mkdtempSync(join(tmpdir(), "gc-test-"));
    return {
      storage: fsStorage({ root }),
      root,
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  }],
];

let seed = 0;
/** Distinct bytes for each call. */
function unique(label: string): Uint8Array {
  return encoder.encode(`${label} ${++seed} ${Math.random()}`);
}

/** A manifest record of `json` (with its subject, if any, indexed as a referrer). */
function record(json: Record<string, unknown>, mediaType: string = MEDIA_TYPES.manifest) {
  const bytes = encoder.encode(JSON.stringify(json));
  const digest = digestOf(bytes);
  const r: ManifestRecord = { digest, mediaType, bytes };
  const subject = (json.subject as { digest: string } | undefined)?.digest;
  if (subject) {
    r.subject = subject;
    r.referrer = { mediaType, digest, size: bytes.byteLength, artifactType: "application/sig" };
  }
  return r;
}

const desc = (digest: string, mediaType = "application/octet-stream", size = 1) => ({
  mediaType,
  digest,
  size,
});

/** Push an image (config + layers) to `repo`; answers its manifest and blob digests. */
async function image(
  s: CollectableStorage,
  repo: string,
  options: { tag?: string; layers?: string[]; subject?: string } = {},
) {
  const config = await pushBlob(s, repo, unique("config"));
  const layers = options.layers ?? [await pushBlob(s, repo, unique("layer"))];
  const json: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: desc(config, MEDIA_TYPES.config),
    layers: layers.map((d) => desc(d)),
  };
  if (options.subject) json.subject = desc(options.subject, MEDIA_TYPES.manifest);
  const m = record(json);
  await s.manifests.put(repo, m);
  if (options.tag) await s.tags.set(repo, options.tag, m.digest);
  return { digest: m.digest, config, layers };
}

/** Whether `repo` still has `digest` as a readable blob / a manifest. */
const hasBlob = async (s: CollectableStorage, repo: string, d: string) =>
  (await s.blobs.stat(repo, d)) !== undefined;
const hasManifest = async (s: CollectableStorage, repo: string, d: string) =>
  (await s.manifests.get(repo, d)) !== undefined;
async function stored(s: CollectableStorage): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const b of s.blobs.list()) out.add(b.digest);
  return out;
}

/**
 * `inner`, with a collector paused when it starts sweeping `repository` (its mark is done):
 * `atSweep` resolves then, and the sweep goes on after `resume()`.
 */
function pausedAtSweep(inner: CollectableStorage, repository: string) {
  let reached = () => {};
  const atSweep = new Promise<void>((resolve) => (reached = resolve));
  let resume = () => {};
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  const storage: CollectableStorage = {
    ...inner,
    blobs: {
      ...inner.blobs,
      links: async function* (name: string) {
        if (name === repository) {
          reached();
          await resumed;
        }
        yield* inner.blobs.links(name);
      },
    },
  };
  return { storage, atSweep, resume };
}

/** Make sure what was written so far is older than a collection starting now with grace 0. */
const settle = () => pause(25);

for (const [name, factory] of ADAPTERS) {
  const gc = suite(`gc on ${name}`);
  const made: (() => void)[] = [];
  gc.after.each(() => {
    for (const cleanup of made.splice(0)) cleanup();
  });
  const fresh = () => {
    const f = factory();
    made.push(f.cleanup);
    return f;
  };

  gc("tagged images stay whole; untagged ones stay unless untagged is asked", async () => {
    const { storage: s } = fresh();
    const tagged = await image(s, "app", { tag: "v1" });
    const loose = await image(s, "app");
    await settle();
    const first = await collectGarbage(s, { graceMs: 0 });
    assert.deepEqual(first.errors, []);
    assert.equal(first.repositories, 1);
    assert.deepEqual(first.manifests, { kept: 2, deleted: 0 });
    assert.deepEqual(first.links, { kept: 4, deleted: 0 });
    assert.deepEqual(first.blobs, { kept: 4, deleted: 0 });
    assert.ok(await hasManifest(s, "app", loose.digest));

    const dry = await collectGarbage(s, { graceMs: 0, untagged: true, dryRun: true });
    assert.deepEqual(dry.manifests, { kept: 1, deleted: 1 });
    assert.deepEqual(dry.links, { kept: 2, deleted: 2 });
    assert.ok(await hasManifest(s, "app", loose.digest), "a dry run deletes nothing");
    assert.ok(await hasBlob(s, "app", loose.config));

    const second = await collectGarbage(s, { graceMs: 0, untagged: true });
    assert.deepEqual(second.errors, []);
    assert.deepEqual(second.manifests, { kept: 1, deleted: 1 });
    assert.deepEqual(second.links, { kept: 2, deleted: 2 });
    assert.deepEqual(second.blobs, { kept: 2, deleted: 2 });
    assert.ok(second.bytesFreed > 0);
    assert.equal(await hasManifest(s, "app", loose.digest), false);
    for (const d of [loose.config, ...loose.layers]) {
      assert.equal(await hasBlob(s, "app", d), false);
      assert.equal((await stored(s)).has(d), false, "content gone");
    }
    assert.ok(await hasManifest(s, "app", tagged.digest));
    for (const d of [tagged.config, ...tagged.layers]) assert.ok(await hasBlob(s, "app", d));
  });

  gc("a deleted tag's manifest goes with untagged; a shared layer stays where linked", async () => {
    const { storage: s } = fresh();
    const shared = await pushBlob(s, "a", unique("shared"));
    assert.ok(await s.blobs.link("b", shared));
    const a = await image(s, "a", { tag: "t", layers: [shared] });
    const b = await image(s, "b", { tag: "t", layers: [shared] });
    await s.tags.delete("a", "t");
    await settle();
    const report = await collectGarbage(s, { graceMs: 0, untagged: true });
    assert.deepEqual(report.errors, []);
    assert.equal(await hasManifest(s, "a", a.digest), false);
    assert.equal(await hasBlob(s, "a", shared), false, "a's link is gone");
    assert.ok(await hasBlob(s, "b", shared), "b still links and reads the shared layer");
    assert.ok(await hasManifest(s, "b", b.digest));
    assert.ok((await stored(s)).has(shared));
    assert.equal((await stored(s)).has(a.config), false);
  });

  gc("an index keeps its children and their blobs; referrers of kept manifests stay", async () => {
    const { storage: s } = fresh();
    const child1 = await image(s, "r");
    const child2 = await image(s, "r");
    const index = record({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        desc(child1.digest, MEDIA_TYPES.manifest),
        desc(child2.digest, MEDIA_TYPES.manifest),
      ],
    }, MEDIA_TYPES.index);
    await s.manifests.put("r", index);
    await s.tags.set("r", "latest", index.digest);
    const signature = await image(s, "r", { subject: index.digest });
    const sbomOfSig = await image(s, "r", { subject: signature.digest });
    const orphan = await image(s, "r");
    const orphanSig = await image(s, "r", { subject: orphan.digest });
    await settle();
    const report = await collectGarbage(s, { graceMs: 0, untagged: true });
    assert.deepEqual(report.errors, []);
    for (const m of [child1, child2, signature, sbomOfSig]) {
      assert.ok(await hasManifest(s, "r", m.digest));
      for (const d of [m.config, ...m.layers]) assert.ok(await hasBlob(s, "r", d));
    }
    assert.ok(await hasManifest(s, "r", index.digest));
    for (const m of [orphan, orphanSig]) {
      assert.equal(await hasManifest(s, "r", m.digest), false);
      for (const d of [m.config, ...m.layers]) assert.equal(await hasBlob(s, "r", d), false);
    }
    assert.deepEqual(report.manifests, { kept: 5, deleted: 2 });
  });

  gc("a mount nothing references goes after grace; content stays while linked", async () => {
    const { storage: s } = fresh();
    const img = await image(s, "src", { tag: "v1" });
    assert.ok(await s.blobs.link("dst", img.layers[0]));
    const lone = await pushBlob(s, "dst", unique("lone"));
    const young = await collectGarbage(s, { graceMs: 60_000 });
    assert.deepEqual(young.links.deleted + young.blobs.deleted, 0, "within grace: all kept");
    assert.ok(await hasBlob(s, "dst", img.layers[0]));
    await settle();
    const report = await collectGarbage(s, { graceMs: 0 });
    assert.deepEqual(report.errors, []);
    assert.equal(report.repositories, 2, "dst has links but no manifest: visited too");
    assert.equal(await hasBlob(s, "dst", img.layers[0]), false);
    assert.equal(await hasBlob(s, "dst", lone), false);
    assert.ok(await hasBlob(s, "src", img.layers[0]), "src still links the content");
    assert.equal((await stored(s)).has(lone), false);
    assert.deepEqual(report.blobs.deleted, 1);
  });

  gc("a manifest PUT between mark and sweep keeps the blob it references", async () => {
    const { storage: inner } = fresh();
    const layer = await pushBlob(inner, "app", unique("layer"));
    const config = await pushBlob(inner, "app", unique("config"));
    await settle();
    // Pause the collector when it starts sweeping "app" (after marking it).
    const { storage, atSweep: marked, resume } = pausedAtSweep(inner, "app");
    const collecting = collectGarbage(storage, { graceMs: 0 });
    await marked;
    const registry = createRegistry({ storage: inner });
    const bytes = encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: desc(config, MEDIA_TYPES.config, 1),
      layers: [desc(layer)],
    }));
    const res = await registry.fetch(
      new Request("http://registry.test/v2/app/manifests/v1", {
        method: "PUT",
        headers: { "Content-Type": MEDIA_TYPES.manifest },
        body: bytes,
      }),
    );
    assert.equal(res.status, 201);
    resume();
    const report = await collecting;
    assert.deepEqual(report.errors, []);
    assert.equal(report.links.deleted, 0, "touched by the PUT: kept");
    assert.ok(await hasBlob(inner, "app", layer));
    assert.ok(await hasBlob(inner, "app", config));
    const again = await collectGarbage(inner, { graceMs: 0 });
    assert.equal(again.links.deleted + again.blobs.deleted, 0, "now marked by the tag");
  });

  gc("a chunked upload straddling a collection commits and stays", async () => {
    const { storage: s } = fresh();
    const a = unique("first half ");
    const b = unique("second half");
    const session = await s.uploads.create("up", { algorithm: "sha256" });
    await s.uploads.append("up", session.id, 0, chunksOf(a));
    await settle();
    const during = await collectGarbage(s, { graceMs: 0 });
    assert.equal(during.uploadsPurged, 0);
    assert.ok(await s.uploads.append("up", session.id, a.byteLength, chunksOf(b)));
    const whole = new Uint8Array([...a, ...b]);
    const digest = digestOf(whole);
    assert.ok(await s.uploads.commit("up", session.id, digest));
    const m = record({ schemaVersion: 2, config: desc(digest), layers: [] });
    await s.manifests.put("up", m);
    await s.tags.set("up", "t", m.digest);
    await settle();
    await collectGarbage(s, { graceMs: 0 });
    assert.ok(await hasBlob(s, "up", digest));
  });

  gc("expired upload sessions are purged", async () => {
    const { storage: s } = fresh();
    const old = await s.uploads.create("a", { algorithm: "sha256" });
    await settle();
    const report = await collectGarbage(s, { graceMs: 0, uploadTtlMs: 10 });
    assert.equal(report.uploadsPurged, 1);
    assert.equal(await s.uploads.get("a", old.id), undefined);
  });

  gc("two collections at once: exactly one runs", async () => {
    const { storage: inner } = fresh();
    await image(inner, "a", { tag: "t" });
    const { storage, atSweep, resume } = pausedAtSweep(inner, "a");
    const first = collectGarbage(storage, { graceMs: 0 });
    await atSweep;
    // The first holds the lease while it is paused: a second one (of any wrapper) is refused.
    await assert.rejects(collectGarbage(inner, { graceMs: 0 }), GcBusyError);
    await assert.rejects(collectGarbage(storage, { graceMs: 0 }), GcBusyError);
    resume();
    assert.deepEqual((await first).errors, []);
    const again = await collectGarbage(inner, { graceMs: 0 }); // released: runs again
    assert.equal(again.repositories, 1);
  });

  if (name === "fs") {
    gc("a removal cut short by a crash is undone by the next enumeration", async () => {
      const { storage: s, root } = fresh();
      const img = await image(s, "a", { tag: "t" });
      const link = join(root!, "repositories", "a", "_links", img.layers[0].replace(":", "-"));
      // What a crash between the rename aside and the decision leaves.
      await fsp.rename(link, link.replace(/sha256-/, ".gc-sha256-"));
      assert.equal(await hasBlob(s, "a", img.layers[0]), false);
      const report = await collectGarbage(s, { graceMs: 0 });
      assert.deepEqual(report.errors, []);
      assert.ok(await hasBlob(s, "a", img.layers[0]), "restored and kept");
    });
  }

  gc.run();
}
