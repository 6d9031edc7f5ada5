/**
 * A short-lived exclusive lock between processes sharing one storage root, for tag
 * compare-and-swap.
 *
 * Why a lock file and not rename tricks: `rename` replaces its target unconditionally and `link`
 * only refuses an existing name, so neither can say "replace only if the current value is X". A
 * lock file created with `O_EXCL` (flag `wx`) is atomic on every local file system on all three
 * runtimes; inside the lock the read-compare-write is an ordinary atomic replace (temp file, fsync,
 * rename), so readers never wait and never see a partial tag. A holder that crashed leaves its
 * lock behind: the file names the holder's pid and host, and a lock whose process is gone (same
 * host) or that is older than {@link STALE_LOCK_MS} (a tag update takes milliseconds) is broken.
 *
 * @module
 */
import { promises as fsp } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { dirname } from "node:path";
import { ensureDir, errorCode, randomName, readOptional, removeFile } from "./io.ts";

/** A lock older than this is considered abandoned. */
export const STALE_LOCK_MS = 30_000;
/** An empty lock (holder killed before writing its pid) older than this is stale. */
const EMPTY_LOCK_GRACE_MS = 2_000;
/** Give up waiting for a lock after this long. */
const WAIT_MS = STALE_LOCK_MS + 15_000;

const HOST = hostname();
const decoder = new TextDecoder();

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether no process `pid` runs on this host (signal 0 answers ESRCH). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === "ESRCH";
  }
}

/** Whether the lock at `path` was left by a holder that is gone. */
async function isStale(path: string): Promise<boolean> {
  try {
    const [stat, bytes] = await Promise.all([fsp.stat(path), readOptional(path)]);
    const age = Date.now() - stat.mtimeMs;
    if (age > STALE_LOCK_MS) return true;
    // A holder writes its pid right after creating the lock; an empty lock older than a couple of
    // seconds was left by a process killed between the two steps.
    if ((bytes?.byteLength ?? 0) === 0 && age > EMPTY_LOCK_GRACE_MS) return true;
    const [pid, host] = decoder.decode(bytes ?? new Uint8Array()).split(" ");
    return host === HOST && /^\d+$/.test(pid) && processGone(Number(pid));
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false; // released meanwhile: just retry
    throw error;
  }
}

/**
 * Break a stale lock: rename it aside, check that what was moved is still the stale lock (another
 * process may have broken it and taken a fresh one meanwhile), and remove it; a fresh lock moved by
 * mistake is put back with `link`, which fails rather than replace a lock taken in between. What
 * remains is a window of microseconds that needs a crashed holder and three contenders at once.
 */
async function breakLock(path: string): Promise<void> {
  const aside = `${path}.stale-${randomName(6)}`;
  try {
    await fsp.rename(path, aside);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw error;
  }
  if (!(await isStale(aside))) {
    await fsp.link(aside, path).catch(() => {});
  }
  await removeFile(aside);
}

/** Run `fn` while holding the lock file `path` (created with O_EXCL, removed afterwards). */
export async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let delay = 1;
  for (;;) {
    try {
      const handle = await fsp.open(path, "wx");
      try {
        await handle.writeFile(`${process.pid} ${HOST}`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT") {
        await ensureDir(dirname(path));
        continue;
      }
      if (code !== "EEXIST") throw error;
      if (await isStale(path)) {
        await breakLock(path);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`fsStorage: timed out waiting for lock ${path}`);
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 50);
    }
  }
  try {
    return await fn();
  } finally {
    await removeFile(path);
  }
}
