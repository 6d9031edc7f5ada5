/**
 * Upload sessions of {@link fsStorage}, kept entirely on disk so that a restarted process, or
 * another process on the same root, continues them.
 *
 * A session is a directory `uploads/<id>/` with `info.json` (repository, algorithm, creation time)
 * and one file per acknowledged append, `seg-<offset>`. An append streams into a private
 * `part-<random>` file, fsyncs it, then claims its offset with `link(part, seg-<offset>)`: `link`
 * fails when the name exists, so of two appends at the same offset exactly one wins (the other gets
 * {@link UploadOffsetError}), across processes, without locks that a crash could leave behind. A
 * failed append removes its part file: nothing of it is ever visible. The session's size is the
 * last segment's offset plus its length.
 *
 * Commit links the single segment into `blobs/` (no copy), or concatenates several segments into a
 * temporary file first, fsyncs, and renames it into place; content already stored is kept as is
 * (stored once). Then it links the blob into the repository and removes the session. A crash at
 * any step leaves either no blob or a whole one, and the session until the very end.
 *
 * @module
 */
import { createReadStream, promises as fsp } from "node:fs";
import { dirname, join } from "node:path";
import { writeLink } from "./fs_blobs.ts";
import {
  ensureDir,
  errorCode,
  isMissing,
  randomName,
  readOptional,
  sizeOptional,
  streamToNewFile,
  syncDir,
  withDir,
  writeNewFile,
} from "./fs_io.ts";
import type { FsLayout } from "./fs_paths.ts";
import { type FileSpan, fileStream } from "./fs_read.ts";
import {
  type BlobInfo,
  type Digest,
  type UploadInfo,
  UploadOffsetError,
  type UploadStore,
} from "./types.ts";

const decoder = new TextDecoder();
const SEGMENT = /^seg-(\d+)$/;
/** Temporary files untouched for this long are left over from a crash. */
const TMP_GRACE_MS = 60 * 60 * 1000;

interface Stored {
  repository: string;
  algorithm: string;
  createdAt: number;
}

/** A session's acknowledged bytes: its segments in order, and the total size. */
interface Segments {
  spans: FileSpan[];
  size: number;
}

/** Options of {@link fsUploads}. */
export interface FsUploadsOptions {
  /** Sessions created longer ago than this are expired: unknown, and purged. */
  ttlMs: number;
}

/** The upload store over `layout`. */
export function fsUploads(layout: FsLayout, options: FsUploadsOptions): Required<UploadStore> {
  /** Sessions this adapter is appending to: a second append fails at once instead of racing. */
  const appending = new Set<string>();

  async function readInfo(id: string): Promise<Stored | undefined> {
    const bytes = await readOptional(join(layout.upload(id), "info.json"));
    return bytes && (JSON.parse(decoder.decode(bytes)) as Stored);
  }

  /** The stored session, if it exists, belongs to `repository` and has not expired. */
  async function session(repository: string, id: string): Promise<Stored | undefined> {
    layout.repository(repository);
    const info = await readInfo(id);
    if (!info || info.repository !== repository) return undefined;
    if (info.createdAt < Date.now() - options.ttlMs) return undefined;
    return info;
  }

  async function segments(id: string): Promise<Segments> {
    const dir = layout.upload(id);
    const offsets: number[] = [];
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (error) {
      if (isMissing(error)) return { spans: [], size: 0 };
      throw error;
    }
    for (const name of names) {
      const m = SEGMENT.exec(name);
      if (m) offsets.push(Number(m[1]));
    }
    offsets.sort((a, b) => a - b);
    const spans: FileSpan[] = [];
    for (let i = 0; i < offsets.length; i++) {
      const path = join(dir, `seg-${offsets[i]}`);
      const next = offsets[i + 1];
      // Only the last segment's length is unknown from the names alone.
      const end = next !== undefined
        ? next - 1
        : offsets[i] + ((await sizeOptional(path)) ?? 0) - 1;
      spans.push({ path, start: 0, end: end - offsets[i] });
    }
    const last = offsets.at(-1);
    const size = last === undefined ? 0 : last + spans[spans.length - 1].end + 1;
    return { spans, size };
  }

  function toInfo(id: string, stored: Stored, size: number): UploadInfo {
    return {
      id,
      repository: stored.repository,
      size,
      algorithm: stored.algorithm,
      createdAt: stored.createdAt,
    };
  }

  /** Write the blob `digest` from the session's segments, unless it is already stored. */
  async function storeBlob(digest: Digest, segs: Segments): Promise<void> {
    const dest = layout.blob(digest);
    if ((await sizeOptional(dest)) !== undefined) return;
    if (segs.spans.length === 1) {
      try {
        await withDir(dest, () => fsp.link(segs.spans[0].path, dest));
      } catch (error) {
        if (errorCode(error) !== "EEXIST") throw error;
      }
    } else {
      const tmp = join(layout.tmp, randomName());
      await ensureDir(layout.tmp);
      if (segs.spans.length === 0) await writeNewFile(tmp, new Uint8Array(0));
      else await streamToNewFile(tmp, concatenate(segs.spans));
      try {
        // Replacing an identical blob stored meanwhile by another commit is harmless.
        await withDir(dest, () => fsp.rename(tmp, dest));
      } catch (error) {
        await fsp.rm(tmp, { force: true });
        throw error;
      }
    }
    await syncDir(dirname(dest));
  }

  async function purge(before: number): Promise<number> {
    let purged = 0;
    let ids: string[] = [];
    try {
      ids = await fsp.readdir(layout.uploads);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    for (const id of ids) {
      let dir: string;
      try {
        dir = layout.upload(id);
      } catch {
        continue; // not a session directory
      }
      let created: number | undefined;
      try {
        created = (await readInfo(id))?.createdAt;
      } catch {
        created = undefined; // unreadable info: judge by the directory's age
      }
      if (created === undefined) {
        const stat = await fsp.stat(dir).catch(() => undefined);
        if (!stat) continue;
        created = stat.mtimeMs;
      }
      if (created < before) {
        try {
          await fsp.rm(dir, { recursive: true, force: true });
          purged++;
        } catch {
          // Removed concurrently (another purge, a cancel): not ours to count.
        }
      }
    }
    // Temporary files of writes that a crash interrupted. A write in progress keeps touching its
    // file, so one untouched for an hour is abandoned, however short the session TTL is.
    const tmpBefore = Math.min(before, Date.now() - TMP_GRACE_MS);
    for (const name of await fsp.readdir(layout.tmp).catch(() => [] as string[])) {
      const path = join(layout.tmp, name);
      const stat = await fsp.stat(path).catch(() => undefined);
      if (stat && stat.mtimeMs < tmpBefore) await fsp.rm(path, { recursive: true, force: true });
    }
    return purged;
  }

  return {
    async create(repository, { algorithm }) {
      layout.repository(repository);
      const id = randomName();
      const stored: Stored = { repository, algorithm, createdAt: Date.now() };
      // Built aside and renamed into place: a session exists whole or not at all.
      const building = join(layout.tmp, `session-${randomName()}`);
      await ensureDir(building);
      await writeNewFile(join(building, "info.json"), JSON.stringify(stored));
      await syncDir(building);
      const dir = layout.upload(id);
      await withDir(dir, () => fsp.rename(building, dir));
      await syncDir(layout.uploads);
      return toInfo(id, stored, 0);
    },

    async get(repository, id) {
      const stored = await session(repository, id);
      return stored && toInfo(id, stored, (await segments(id)).size);
    },

    async append(repository, id, offset, data) {
      const stored = await session(repository, id);
      if (!stored) return undefined;
      const before = await segments(id);
      if (appending.has(id) || offset !== before.size) throw new UploadOffsetError(before.size);
      appending.add(id);
      try {
        const dir = layout.upload(id);
        const part = join(dir, `part-${randomName()}`);
        let written: number;
        try {
          written = await streamToNewFile(part, data);
        } catch (error) {
          // The session ended (commit, cancel, purge) while the data streamed in.
          if (isMissing(error) && !(await readInfo(id))) return undefined;
          throw error;
        }
        if (written === 0) {
          await fsp.rm(part, { force: true });
          return toInfo(id, stored, offset);
        }
        try {
          await fsp.link(part, join(dir, `seg-${offset}`));
        } catch (error) {
          const code = errorCode(error);
          if (code === "EEXIST") throw new UploadOffsetError((await segments(id)).size);
          if (code === "ENOENT") return undefined;
          throw error;
        } finally {
          await fsp.rm(part, { force: true });
        }
        await syncDir(dir);
        return toInfo(id, stored, offset + written);
      } finally {
        appending.delete(id);
      }
    },

    async read(repository, id) {
      if (!(await session(repository, id))) return undefined;
      return fileStream((await segments(id)).spans);
    },

    async commit(repository, id, digest): Promise<BlobInfo | undefined> {
      layout.blob(digest);
      if (!(await session(repository, id))) return undefined;
      const segs = await segments(id);
      try {
        await storeBlob(digest, segs);
      } catch (error) {
        // A concurrent commit of the same session removed it first; its blob is what counts.
        if (!isMissing(error) || (await readInfo(id))) throw error;
        if ((await sizeOptional(layout.blob(digest))) === undefined) return undefined;
      }
      await writeLink(layout, repository, digest);
      await fsp.rm(layout.upload(id), { recursive: true, force: true });
      await syncDir(layout.uploads);
      const size = await sizeOptional(layout.blob(digest));
      return size === undefined ? undefined : { digest, size };
    },

    async cancel(repository, id) {
      if (!(await session(repository, id))) return false;
      await fsp.rm(layout.upload(id), { recursive: true, force: true });
      await syncDir(layout.uploads);
      return true;
    },

    purge,
  };
}

/** The bytes of `spans`, one file after another, in large chunks. */
async function* concatenate(spans: readonly FileSpan[]): AsyncGenerator<Uint8Array> {
  for (const span of spans) {
    if (span.end < span.start) continue;
    const stream = createReadStream(span.path, {
      start: span.start,
      end: span.end,
      highWaterMark: 1024 * 1024,
    });
    for await (const chunk of stream) yield chunk as Uint8Array;
  }
}
