/**
 * The sweep: per repository (manifests, then links), then content no repository links.
 *
 * Order keeps a crash harmless: a manifest goes before the links it used, a link before the
 * content, and content only when no repository links it; whatever a crash leaves, the next run
 * finds unreferenced and removes. Each removal is conditional in the adapter (`unlink` and
 * `remove` with `before`): anything touched since the cutoff stays, so a manifest PUT, upload or
 * mount racing the sweep wins.
 *
 * @module
 */
import type { Marked } from "./mark.ts";
import type { GcEvent, GcReport } from "./report.ts";
import type { CollectableStorage } from "../storage/types.ts";

/** What both sweeps need. */
export interface SweepContext {
  /** The storage. */
  storage: CollectableStorage;
  /** Only what was last written or touched before this time goes. */
  cutoff: number;
  /** Count, but delete nothing. */
  dryRun: boolean;
  /** Untagged manifests may go. */
  untagged: boolean;
  /** The report being filled. */
  report: GcReport;
  /** Progress. */
  emit: (event: GcEvent) => void;
  /** Throws when the collection must stop (lease lost). */
  check: () => void;
}

function failed(ctx: SweepContext, what: string, error: unknown) {
  ctx.report.errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
}

/** Sweep `repository`'s unkept manifests (with `untagged`), then its unkept links. */
export async function sweepRepository(
  ctx: SweepContext,
  repository: string,
  marked: Marked,
): Promise<void> {
  const { storage, report, cutoff } = ctx;
  for (const entry of marked.manifests) {
    if (marked.keptManifests.has(entry.digest) || !ctx.untagged || entry.modifiedAt >= cutoff) {
      report.manifests.kept++;
      continue;
    }
    ctx.check();
    try {
      if (ctx.dryRun || await storage.manifests.delete(repository, entry.digest)) {
        report.manifests.deleted++;
        ctx.emit({ kind: "manifest", repository, digest: entry.digest });
      }
    } catch (error) {
      failed(ctx, `manifest ${repository}@${entry.digest}`, error);
    }
  }
  for await (const link of storage.blobs.links(repository)) {
    if (marked.keptBlobs.has(link.digest) || link.modifiedAt >= cutoff) {
      report.links.kept++;
      continue;
    }
    ctx.check();
    try {
      const gone = ctx.dryRun || await storage.blobs.unlink(repository, link.digest, cutoff);
      if (gone) {
        report.links.deleted++;
        ctx.emit({ kind: "link", repository, digest: link.digest });
      } else report.links.kept++;
    } catch (error) {
      failed(ctx, `link ${repository}@${link.digest}`, error);
    }
  }
}

/** Every repository, page by page. */
export async function* repositoriesOf(storage: CollectableStorage): AsyncGenerator<string> {
  let after: string | undefined;
  for (;;) {
    const page = await storage.repositories({ after, limit: 1000 });
    yield* page.items;
    if (!page.more || page.items.length === 0) return;
    after = page.items[page.items.length - 1];
  }
}

/**
 * Delete content older than the cutoff that no repository links. Candidates are taken
 * `batchSize` at a time (the only digests held in memory), and each batch is checked against
 * every repository's links: memory is O(batchSize), time O(blobs / batchSize × links).
 */
export async function sweepContent(ctx: SweepContext, batchSize: number): Promise<void> {
  const { storage, report } = ctx;
  let batch = new Map<string, number>();
  const flush = async () => {
    if (batch.size === 0) return;
    for await (const repository of storage.blobs.owners()) {
      for await (const link of storage.blobs.links(repository)) {
        if (batch.delete(link.digest)) report.blobs.kept++;
      }
    }
    for (const [digest, size] of batch) {
      ctx.check();
      try {
        if (ctx.dryRun || await storage.blobs.remove(digest, ctx.cutoff)) {
          report.blobs.deleted++;
          report.bytesFreed += size;
          ctx.emit({ kind: "blob", digest, size });
        } else report.blobs.kept++;
      } catch (error) {
        failed(ctx, `blob ${digest}`, error);
      }
    }
    batch = new Map();
  };
  for await (const blob of storage.blobs.list()) {
    if (blob.modifiedAt >= ctx.cutoff) {
      report.blobs.kept++;
      continue;
    }
    batch.set(blob.digest, blob.size);
    if (batch.size >= batchSize) await flush();
  }
  await flush();
}
