/**
 * `fetch-registry gc`: one garbage collection of a storage, with progress on stderr and a summary
 * on stdout at the end. Exit 0 when it ran without errors, 1 when a step failed or another
 * collection holds the lease, 2 for a bad command line.
 *
 * @module
 */
import { formatDuration, parseDuration } from "./duration.ts";
import { DEFAULT_STORAGE_SPEC, storageFromSpec } from "./from_spec.ts";
import { UsageError } from "./args.ts";
import { collectGarbage, GcBusyError } from "../gc/collect.ts";
import type { GcEvent, GcReport } from "../gc/report.ts";

/** The `gc --help` text. */
export const GC_USAGE = `fetch-registry gc: collect garbage in a registry's storage, online

Usage: fetch-registry gc --storage STORAGE [--grace DURATION] [--untagged] [--dry-run]
                         [--upload-ttl DURATION]

Options:
  --storage STORAGE      memory | fs:DIR | s3://... as for the server (default ${DEFAULT_STORAGE_SPEC});
                         the adapter must have the gc capability (memory, fs)
  --grace DURATION       keep anything written, uploaded, mounted or referenced more recently
                         (default 1h); DURATION is a whole number and ms, s, m, h or d
  --untagged             also delete manifests no tag reaches (directly, through an index, or
                         as a referrer of one that is kept)
  --dry-run              list what would be deleted; delete nothing
  --upload-ttl DURATION  purge upload sessions older than this (default 24h)
  -h, --help             show this help

Progress goes to stderr, the summary to stdout. Safe while the registry serves: what a push
uploads, mounts or references during the collection is kept. Two collections never run at once.`;

/** The parsed `gc` command line. */
export interface GcCliOptions {
  /** `--storage`. */
  storage: string;
  /** `--grace`, ms. */
  graceMs: number;
  /** `--untagged`. */
  untagged: boolean;
  /** `--dry-run`. */
  dryRun: boolean;
  /** `--upload-ttl`, ms. */
  uploadTtlMs: number;
  /** `-h`, `--help`. */
  help: boolean;
}

/**
 * Parse the arguments after `gc`. Throws {@link UsageError} for a mistake.
 *
 * @example
 * ```ts
 * parseGcArgs(["--storage", "fs:./data", "--grace", "10m"]).graceMs; // 600000
 * ```
 */
export function parseGcArgs(args: string[]): GcCliOptions {
  const options: GcCliOptions = {
    storage: DEFAULT_STORAGE_SPEC,
    graceMs: 3_600_000,
    untagged: false,
    dryRun: false,
    uploadTtlMs: 86_400_000,
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h" || arg === "--help") options.help = true;
    else if (arg === "--untagged") options.untagged = true;
    else if (arg === "--dry-run") options.dryRun = true;
    else {
      const match = /^--(storage|grace|upload-ttl)(?:=(.*))?$/s.exec(arg);
      if (!match) {
        throw new UsageError(
          arg.startsWith("-")
            ? `unknown flag ${arg}`
            : `unexpected argument ${JSON.stringify(arg)}`,
        );
      }
      let value = match[2];
      if (value === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`--${match[1]} needs a value`);
        value = args[++i];
      }
      if (match[1] === "storage") {
        if (value === "") throw new UsageError("--storage needs a value");
        options.storage = value;
        continue;
      }
      const ms = parseDuration(value);
      if (ms === undefined) {
        throw new UsageError(
          `--${match[1]} must be a duration like 30s, 10m, 1h or 7d, not ${JSON.stringify(value)}`,
        );
      }
      if (match[1] === "grace") options.graceMs = ms;
      else options.uploadTtlMs = ms;
    }
  }
  return options;
}

/** One progress line for `event`. */
function describe(event: GcEvent, dryRun: boolean): string {
  const verb = dryRun ? "would delete" : "deleted";
  switch (event.kind) {
    case "repository":
      return `repository ${event.repository}`;
    case "manifest":
      return `${verb} manifest ${event.repository}@${event.digest}`;
    case "link":
      return `${verb} link ${event.repository}@${event.digest}`;
    case "blob":
      return `${verb} blob ${event.digest} (${event.size} bytes)`;
  }
}

/** Bytes for people. */
function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/**
 * The summary printed at the end.
 *
 * @example
 * ```ts
 * formatGcSummary(report); // "repositories: 3\nmanifests: 5 kept, 1 deleted\n…"
 * ```
 */
export function formatGcSummary(report: GcReport): string {
  const deleted = report.dryRun ? "would be deleted" : "deleted";
  return [
    `repositories: ${report.repositories}`,
    `manifests: ${report.manifests.kept} kept, ${report.manifests.deleted} ${deleted}`,
    `blob links: ${report.links.kept} kept, ${report.links.deleted} ${deleted}`,
    `blobs: ${report.blobs.kept} kept, ${report.blobs.deleted} ${deleted}`,
    `bytes freed: ${formatBytes(report.bytesFreed)}${report.dryRun ? " (dry run)" : ""}`,
    `upload sessions purged: ${report.uploadsPurged}`,
    `errors: ${report.errors.length}`,
    `duration: ${formatDuration(report.durationMs)}`,
  ].join("\n");
}

/** Where `gc` writes. */
export interface GcIo {
  /** Progress and failures. */
  stderr: (text: string) => void;
  /** The summary. */
  stdout: (text: string) => void;
}

/**
 * Run `fetch-registry gc` with `args` (after `gc`); answers the exit code.
 *
 * @example
 * ```ts
 * const code = await runGc(["--storage", "fs:./data", "--dry-run"], process.env, io);
 * ```
 */
export async function runGc(
  args: string[],
  env: Record<string, string | undefined>,
  io: GcIo,
): Promise<number> {
  let options: GcCliOptions;
  try {
    options = parseGcArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`fetch-registry gc: ${error.message} (see gc --help)\n`);
    return 2;
  }
  if (options.help) {
    io.stdout(`${GC_USAGE}\n`);
    return 0;
  }
  const storage = await storageFromSpec(options.storage, env);
  try {
    const report = await collectGarbage(storage, {
      graceMs: options.graceMs,
      untagged: options.untagged,
      dryRun: options.dryRun,
      uploadTtlMs: options.uploadTtlMs,
      onProgress: (event) => io.stderr(`gc: ${describe(event, options.dryRun)}\n`),
    });
    for (const error of report.errors) io.stderr(`gc: error: ${error}\n`);
    io.stdout(`${formatGcSummary(report)}\n`);
    return report.errors.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof GcBusyError || error instanceof TypeError) {
      io.stderr(`fetch-registry gc: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await storage.close?.();
  }
}
