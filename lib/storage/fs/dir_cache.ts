/**
 * A cache of what {@link fsStorage} derives from a directory listing (the sorted tags of a
 * repository, whether it holds a manifest), validated on every use by one `stat` of the directory
 * so that changes made by other processes on the same root (replicas) are seen.
 *
 * Why: listing a large directory costs milliseconds (tens on Deno), a `stat` of it microseconds
 * (bench/results/design_notes.md), and paging through a listing would otherwise read it per page.
 *
 * ## Consistency
 * - Own writes: callers call {@link DirCache.invalidate} after every change they make in the
 *   directory, before answering; a listing that started before the change and ends after it is
 *   not kept (an epoch counter), and later callers never join it. So a process always sees its
 *   own completed writes.
 * - Other processes: an entry is served only if the directory's `stat` (device, inode, mtime,
 *   ctime and size, in nanoseconds where the runtime reports them) equals the one taken just
 *   before the listing was read, and that listing was "settled": its directory mtime was at least
 *   {@link SETTLE_MS} older than the clock when that `stat` was taken. Every change of a
 *   directory's entries (create, unlink, rename into or out of it) sets its mtime to the current
 *   time; a settled listing therefore cannot share its mtime with a later change, even on a
 *   filesystem whose timestamps are coarse (the kernel's coarse clock ticks every 1-10 ms; ext4
 *   with 128-byte inodes and HFS+ store seconds, FAT two seconds; Deno reports mtime in
 *   milliseconds and ctime in whole seconds). A listing read less than {@link SETTLE_MS} after
 *   the directory last changed is used for that one call only, so after a change the directory is
 *   read again on each call for a few seconds, then once more, then served from the cache.
 * - What this assumes: the filesystem's timestamps come from a clock that is not behind this
 *   process's clock by more than ~1 s (local filesystems; a network filesystem's server with a
 *   synchronised clock), nobody sets a directory's mtime back by hand, and `stat` is not served
 *   from a client-side attribute cache. NFS clients cache directory attributes and listings
 *   (`acdirmin`/`acdirmax`, 30-60 s by default) and so delay other hosts' changes with or
 *   without this cache; mount with `noac` or `lookupcache=none` for prompt visibility.
 *
 * @module
 */
import { statSync } from "node:fs";
import { isMissing, listOptional } from "./io.ts";

/**
 * How much older than the clock a directory's mtime must be before a listing of it is reused, in
 * milliseconds: FAT's 2 s timestamp resolution plus a second of clock difference.
 */
export const SETTLE_MS = 3000;

/** The parts of a directory's `stat` that change when its entries change. */
interface Stamp {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  size: bigint;
}

interface Entry<T> {
  stamp: Stamp;
  value: T;
  weight: number;
}

interface Pending<T> {
  stamp: Stamp;
  epoch: number;
  value: Promise<T>;
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.mtimeNs === b.mtimeNs && a.ino === b.ino && a.ctimeNs === b.ctimeNs &&
    a.dev === b.dev && a.size === b.size;
}

/** The directory's stamp, or undefined when it does not exist. */
function stampOf(dir: string): Stamp | undefined {
  try {
    const s = statSync(dir, { bigint: true });
    return { dev: s.dev, ino: s.ino, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, size: s.size };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Options of {@link DirCache}. */
export interface DirCacheOptions<T> {
  /** Directories kept (least recently used dropped first). Default 64. */
  maxEntries?: number;
  /** The weight of a value (e.g. how many names it holds). Default 1. */
  weigh?: (value: T) => number;
  /**
   * Total weight kept (least recently used dropped first); a value heavier than this on its own
   * is not cached. Default: unbounded.
   */
  maxWeight?: number;
  /** Override of {@link SETTLE_MS} (tests). */
  settleMs?: number;
}

/**
 * Values derived from directory listings by one `build` function, cached per directory and
 * validated by `stat` on every {@link DirCache.get}; see the module documentation for the
 * consistency this gives.
 *
 * @example
 * ```ts
 * const tags = new DirCache((names) => names.filter((n) => !n.startsWith(".")).sort());
 * await tags.get("/data/repositories/a/_tags"); // string[] | undefined (no such directory)
 * tags.invalidate("/data/repositories/a/_tags"); // after this process changed it
 * ```
 */
export class DirCache<T> {
  readonly #build: (names: string[]) => T;
  readonly #entries = new Map<string, Entry<T>>();
  readonly #pending = new Map<string, Pending<T>>();
  readonly #max: number;
  readonly #settleMs: number;
  readonly #weigh: (value: T) => number;
  readonly #maxWeight: number;
  #weight = 0;
  #epoch = 0;

  /**
   * @param build Derives the cached value from the directory's entry names (in no particular
   * order). Its result is shared between callers and must not be mutated by them.
   */
  constructor(build: (names: string[]) => T, options: DirCacheOptions<T> = {}) {
    this.#build = build;
    this.#max = Math.max(1, options.maxEntries ?? 64);
    this.#settleMs = options.settleMs ?? SETTLE_MS;
    this.#weigh = options.weigh ?? (() => 1);
    this.#maxWeight = options.maxWeight ?? Infinity;
  }

  #drop(dir: string): void {
    const entry = this.#entries.get(dir);
    if (!entry) return;
    this.#entries.delete(dir);
    this.#weight -= entry.weight;
  }

  /** The value for `dir` as it is now, or undefined when `dir` does not exist. */
  get(dir: string): Promise<T | undefined> {
    const now = Date.now();
    const stamp = stampOf(dir);
    if (!stamp) {
      this.#drop(dir);
      return Promise.resolve(undefined);
    }
    const settled = now - Number(stamp.mtimeNs / 1_000_000n) >= this.#settleMs;
    const hit = this.#entries.get(dir);
    if (hit && settled && sameStamp(hit.stamp, stamp)) {
      this.#entries.delete(dir); // most recently used last
      this.#entries.set(dir, hit);
      return Promise.resolve(hit.value);
    }
    // The directory changed since that listing: never go back to it (even if a later stamp
    // happened to look the same again, e.g. an mtime set back by hand).
    if (hit) this.#drop(dir);
    if (settled) {
      const pending = this.#pending.get(dir);
      if (pending && pending.epoch === this.#epoch && sameStamp(pending.stamp, stamp)) {
        return pending.value;
      }
    }
    return this.#fill(dir, stamp, settled);
  }

  async #fill(dir: string, stamp: Stamp, settled: boolean): Promise<T> {
    const epoch = this.#epoch;
    const value = listOptional(dir).then((names) => this.#build(names));
    if (!settled) return await value;
    const pending: Pending<T> = { stamp, epoch, value };
    this.#pending.set(dir, pending);
    try {
      const result = await value;
      const weight = this.#weigh(result);
      if (epoch === this.#epoch && weight <= this.#maxWeight) {
        this.#drop(dir);
        this.#entries.set(dir, { stamp, value: result, weight });
        this.#weight += weight;
        while (this.#entries.size > this.#max || this.#weight > this.#maxWeight) {
          this.#drop(this.#entries.keys().next().value as string);
        }
      }
      return result;
    } finally {
      if (this.#pending.get(dir) === pending) this.#pending.delete(dir);
    }
  }

  /** Forget `dir`: call after this process changed its entries, before answering the change. */
  invalidate(dir: string): void {
    this.#epoch++;
    this.#drop(dir);
    this.#pending.delete(dir);
  }
}
