/**
 * `collectGarbage`: online mark and sweep over a storage adapter with the gc capability, under
 * the storage's lease so that two collectors never run at once.
 *
 * Memory grows with the largest repository (its manifests, tags and kept digests, mark.ts) plus
 * `batchSize` candidate digests of the content sweep (sweep.ts), never with the whole registry.
 *
 * @module
 */
import { markRepository } from "./mark.ts";
import { emptyReport, type GcEvent, type GcReport } from "./report.ts";
import { repositoriesOf, sweepContent, type SweepContext, sweepRepository } from "./sweep.ts";
import { capabilitiesOf } from "../storage/capabilities.ts";
import type { CollectableStorage, Lease, Storage } from "../storage/types.ts";

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** Anything written, uploaded, mounted or referenced more recently is kept (default 1 h). */
  graceMs?: number;
  /** Delete manifests no tag reaches (directly, through an index or as a referrer). */
  untagged?: boolean;
  /** Count what would go; delete nothing. */
  dryRun?: boolean;
  /** Purge upload sessions created longer ago than this (default 24 h, the handler's). */
  uploadTtlMs?: number;
  /** Content digests checked against the links per pass (default 10,000). */
  batchSize?: number;
  /** Lease time, renewed while the collection runs (default 60 s). */
  leaseTtlMs?: number;
  /** Told each repository visited and each thing deleted (or that would be). */
  onProgress?: (event: GcEvent) => void;
}

/** Thrown when another collector holds the lease. */
export class GcBusyError extends Error {
  constructor() {
    super("another garbage collection holds the lease");
    this.name = "GcBusyError";
  }
}

/** The lease name collectors share. */
export const GC_LEASE = "gc";

/** Keep `lease` renewed; `lost()` tells when a renewal failed. */
function keepRenewed(lease: Lease, ttlMs: number) {
  let lost = false;
  const timer = setInterval(() => {
    lease.renew(ttlMs).then((ok) => lost ||= !ok, () => lost = true);
  }, Math.max(10, ttlMs / 3));
  return { lost: () => lost, stop: () => clearInterval(timer) };
}

/**
 * Collect garbage in `storage`: mark what tags reach in every repository, then sweep unreferenced
 * manifests (with `untagged`), links and content older than the grace period, and expired upload
 * sessions. Throws {@link GcBusyError} when another collection holds the lease, and a TypeError
 * when the storage lacks the gc or referrers capability.
 *
 * @example
 * ```ts
 * import { collectGarbage } from "fetch-registry/gc";
 * const report = await collectGarbage(storage, { graceMs: 3_600_000, untagged: true });
 * console.log(report.blobs.deleted, report.bytesFreed);
 * ```
 */
export async function collectGarbage(storage: Storage, options: GcOptions = {}): Promise<GcReport> {
  const caps = capabilitiesOf(storage);
  if (!caps.gc || !caps.referrers) {
    throw new TypeError("collectGarbage: the storage lacks the gc or referrers capability");
  }
  const store = storage as CollectableStorage;
  const started = Date.now();
  const dryRun = options.dryRun ?? false;
  const leaseTtl = options.leaseTtlMs ?? 60_000;
  const lease = await store.blobs.lease(GC_LEASE, leaseTtl);
  if (!lease) throw new GcBusyError();
  const renewal = keepRenewed(lease, leaseTtl);
  const report = emptyReport(dryRun);
  const ctx: SweepContext = {
    storage: store,
    cutoff: started - (options.graceMs ?? 60 * 60 * 1000),
    dryRun,
    untagged: options.untagged ?? false,
    report,
    emit: options.onProgress ?? (() => {}),
    check() {
      if (renewal.lost()) throw new Error("collectGarbage: the lease was lost; stopping");
    },
  };
  try {
    const visited = new Set<string>();
    for await (const repository of repositoriesOf(store)) {
      ctx.check();
      ctx.emit({ kind: "repository", repository });
      report.repositories++;
      visited.add(repository);
      if (visited.size > 10_000) visited.clear(); // only a shortcut below; bounded
      const marked = await markRepository(store, repository, ctx);
      await sweepRepository(ctx, repository, marked);
    }
    // Repositories with links but no manifest left: every old link goes.
    for await (const repository of store.blobs.owners()) {
      if (visited.has(repository)) continue;
      if ((await store.tags.list(repository, { limit: 1 })) !== undefined) continue;
      ctx.check();
      ctx.emit({ kind: "repository", repository });
      report.repositories++;
      const empty = {
        manifests: [],
        keptManifests: new Set<string>(),
        keptBlobs: new Set<string>(),
      };
      await sweepRepository(ctx, repository, empty);
    }
    await sweepContent(ctx, options.batchSize ?? 10_000);
    if (!dryRun && store.uploads?.purge) {
      report.uploadsPurged = await store.uploads.purge(
        Date.now() - (options.uploadTtlMs ?? 24 * 60 * 60 * 1000),
      );
    }
  } finally {
    renewal.stop();
    await lease.release();
    report.durationMs = Date.now() - started;
  }
  return report;
}
