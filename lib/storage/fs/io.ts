/**
 * Durable file primitives for {@link fsStorage} on node:fs (Node, Deno and Bun): atomic writes
 * (temporary file, fsync, rename, fsync of the directory), streamed writes with backpressure, and
 * tolerant reads where absence is a value.
 *
 * @module
 */
import { createWriteStream, promises as fsp } from "node:fs";
import { dirname, join } from "node:path";

/** The `code` of a node:fs error. */
export function errorCode(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/** True for "the file or one of its directories does not exist". */
export function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** A random URL- and file-name-safe string of `bytes` random bytes. */
export function randomName(bytes = 18): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const b of raw) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/**
 * Make a directory entry durable: fsync the directory. Platforms that cannot open a directory
 * (Windows) make renames durable on their own; their errors are ignored.
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, "r");
    await handle.sync();
  } catch (error) {
    if (isMissing(error)) throw error;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Create `dir` and any missing parents, fsyncing each parent that gained an entry. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir);
  } catch (error) {
    const code = errorCode(error);
    if (code === "EEXIST") return;
    if (code !== "ENOENT") throw error;
    await ensureDir(dirname(dir));
    try {
      await fsp.mkdir(dir);
    } catch (again) {
      if (errorCode(again) === "EEXIST") return;
      throw again;
    }
  }
  await syncDir(dirname(dir));
}

/** Run `op`; when it fails because the directory of `path` is missing, create it and retry. */
export async function withDir<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
    await ensureDir(dirname(path));
    return await op();
  }
}

/** Write `data` to a new file at `path` (which must not exist) and fsync it. */
export async function writeNewFile(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await fsp.open(path, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Atomically replace `dest` with `data`: readers see the old content or the new one, never a
 * part, and once this resolves the new content survives a crash.
 */
export async function writeFileAtomic(
  tmpDir: string,
  dest: string,
  data: Uint8Array | string,
): Promise<void> {
  const tmp = join(tmpDir, randomName());
  await withDir(tmp, () => writeNewFile(tmp, data));
  try {
    await withDir(dest, () => fsp.rename(tmp, dest));
  } catch (error) {
    await fsp.rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dirname(dest));
}

/** The file's bytes, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await fsp.readFile(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The file's size, or undefined when it does not exist. */
export async function sizeOptional(path: string): Promise<number | undefined> {
  try {
    return (await fsp.stat(path)).size;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The names in `dir`, or none when it does not exist. */
export async function listOptional(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** Remove a file; true if it existed. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await fsp.unlink(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** Buffered bytes of the write stream before `write` asks us to wait for `drain`. */
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/** Options of {@link streamToFile}. */
export interface StreamToFileOptions {
  /** Where in the file the bytes go. Default 0. */
  start?: number;
  /**
   * How the file is opened: `"wx"` (default) creates a new file, which is removed again if the
   * write fails; `"r+"` writes into an existing file in place and leaves it as it is on failure.
   */
  flags?: "wx" | "r+";
}

/**
 * Stream `data` into the file at `path` from `options.start`; answers the number of bytes
 * written. Nothing is fsynced (see {@link syncFile}). If `data` or a write throws, the file is
 * closed first (no write of this call lands after it rejects) and the error propagates.
 *
 * Uses `fs.createWriteStream` and waits for `drain` only when its buffer is full: measured in
 * DESIGN.md at ~800-990 MB/s on every runtime, where awaiting each `FileHandle.write` is about half
 * that on Node and collapses on Deno for streamed request bodies.
 *
 * @example
 * ```ts
 * const written = await streamToFile("/data/upload", chunks, { start: 8 << 20, flags: "r+" });
 * ```
 */
export async function streamToFile(
  path: string,
  data: AsyncIterable<Uint8Array>,
  options: StreamToFileOptions = {},
): Promise<number> {
  const { start = 0, flags = "wx" } = options;
  const stream = createWriteStream(path, { flags, start, highWaterMark: WRITE_HIGH_WATER_MARK });
  let failure: unknown;
  let wake: (() => void) | undefined;
  let closed = false;
  const whenClosed = new Promise<void>((resolve) =>
    stream.once("close", () => {
      closed = true;
      wake?.();
      resolve();
    })
  );
  stream.on("error", (error) => {
    failure ??= error;
    wake?.();
  });
  const drained = () =>
    new Promise<void>((resolve) => {
      if (failure || closed) return resolve(); // it will never drain
      wake = resolve;
      stream.once("drain", resolve);
    }).finally(() => {
      wake = undefined;
    });
  let size = 0;
  try {
    for await (const chunk of data) {
      if (failure) throw failure;
      if (chunk.byteLength === 0) continue;
      size += chunk.byteLength;
      if (!stream.write(chunk)) await drained();
      if (closed && !failure) throw new Error("file stream closed early");
    }
    if (failure) throw failure;
    stream.end();
    await whenClosed;
    if (failure) throw failure;
    return size;
  } catch (error) {
    if (!closed) stream.destroy();
    await whenClosed;
    if (flags === "wx") await fsp.rm(path, { force: true });
    throw error;
  }
}

/** fsync the file at `path` (fsync is per file, so any descriptor of it will do). */
export async function syncFile(path: string): Promise<void> {
  const handle = await fsp.open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Stream `data` into a new file at `path` (which must not exist) and fsync it; answers the number
 * of bytes written. If `data` or a write throws, the file is removed and the error propagates.
 */
export async function streamToNewFile(
  path: string,
  data: AsyncIterable<Uint8Array>,
): Promise<number> {
  const size = await streamToFile(path, data);
  try {
    await syncFile(path);
  } catch (error) {
    await fsp.rm(path, { force: true });
    throw error;
  }
  return size;
}
