/**
 * Garbage collection at scale: seed MANIFESTS manifests of 4 layers + a config (5 blobs each, in
 * REPOS repositories, half of them tagged), then one collection with `untagged` and grace 0;
 * prints the collection's duration and the peak RSS during it.
 *
 * Usage: `npx tsx bench/gc_scale.ts memory|fs [MANIFESTS] [REPOS]`
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { collectGarbage } from "../lib/gc/mod.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import type { CollectableStorage } from "../lib/storage/types.ts";
import { pushBlob } from "../lib/testing/contract_support.ts";
import { digestOf } from "../lib/testing/content.ts";

const [kind = "memory", manifestsArg = "10000", reposArg = "100"] = process.argv.slice(2);
const total = Number(manifestsArg);
const repos = Number(reposArg);
const root = kind === "fs" ? mkdtempSync(join(tmpdir(), "gc-bench-")) : "";
const storage: CollectableStorage = kind === "fs" ? fsStorage({ root }) : memoryStorage();
const encoder = new TextEncoder();

const seedStart = Date.now();
for (let i = 0; i < total; i++) {
  const repo = `r${i % repos}`;
  const blobs: string[] = [];
  for (let b = 0; b < 5; b++) {
    blobs.push(await pushBlob(storage, repo, encoder.encode(`${i}/${b}`)));
  }
  const bytes = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    config: { mediaType: "c", digest: blobs[0], size: 1 },
    layers: blobs.slice(1).map((digest) => ({ mediaType: "l", digest, size: 1 })),
  }));
  const digest = digestOf(bytes);
  await storage.manifests.put(repo, { digest, mediaType: "application/json", bytes });
  if (i % 2 === 0) await storage.tags.set(repo, `t${i}`, digest);
}
const seeded = Date.now() - seedStart;
await new Promise((resolve) => setTimeout(resolve, 20));
(globalThis as { gc?: () => void }).gc?.();
const before = process.memoryUsage().rss;
let peak = before;
const sampler = setInterval(() => peak = Math.max(peak, process.memoryUsage().rss), 5);
const report = await collectGarbage(storage, { graceMs: 0, untagged: true });
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const mib = (n: number) => (n / 1048576).toFixed(0);
console.log(
  `${kind}: ${total} manifests, ${
    total * 5
  } blobs, ${repos} repositories (seeded in ${seeded} ms): ` +
    `collection ${report.durationMs} ms, deleted ${report.manifests.deleted} manifests, ` +
    `${report.blobs.deleted} blobs; RSS ${mib(before)} MiB before, peak ${mib(peak)} MiB`,
);
if (root) rmSync(root, { recursive: true, force: true });
