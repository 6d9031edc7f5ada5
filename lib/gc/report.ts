/**
 * The report of a collection and the progress events it emits.
 *
 * @module
 */

/** Kept and deleted counts of one kind of thing. */
export interface Tally {
  /** Kept. */
  kept: number;
  /** Deleted (with `dryRun`: would be deleted). */
  deleted: number;
}

/** What a collection did. */
export interface GcReport {
  /** Whether nothing was deleted because `dryRun` was asked for. */
  dryRun: boolean;
  /** Repositories visited. */
  repositories: number;
  /** Manifests. */
  manifests: Tally;
  /** Blob links, per repository. */
  links: Tally;
  /** Stored blob content. */
  blobs: Tally;
  /** Bytes of content deleted (or that would be). */
  bytesFreed: number;
  /** Expired upload sessions purged. */
  uploadsPurged: number;
  /** Wall time, milliseconds. */
  durationMs: number;
  /** Failures of single steps, which the collection went on past (the next run retries). */
  errors: string[];
}

/** One step of a collection, as it happens. */
export type GcEvent =
  | { kind: "repository"; repository: string }
  | { kind: "manifest"; repository: string; digest: string }
  | { kind: "link"; repository: string; digest: string }
  | { kind: "blob"; digest: string; size: number };

/** An empty report. */
export function emptyReport(dryRun: boolean): GcReport {
  return {
    dryRun,
    repositories: 0,
    manifests: { kept: 0, deleted: 0 },
    links: { kept: 0, deleted: 0 },
    blobs: { kept: 0, deleted: 0 },
    bytesFreed: 0,
    uploadsPurged: 0,
    durationMs: 0,
    errors: [],
  };
}
