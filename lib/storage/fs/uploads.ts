/**
 * Upload sessions of {@link fsStorage}, kept entirely on disk so that a restarted process, or
 * another process on the same root, continues them.
 *
 * A session is a directory `uploads/<id>/`:
 * ```
 * info.json        repository, algorithm, creation time (written once)
 * size             the bytes acknowledged so far, in decimal (replaced by rename after each append)
 * data             the bytes, each append written in place at its offset; only [0, size) counts
 * sealed           `data`, renamed by the commit: from then on no append writes it again
 * claim-<offset>   held while an append or the commit works at that offset (upload_claims.ts)
 * ```
 * An append first claims its offset, exclusively across processes (of two appends at the same
 * offset exactly one gets the claim; the other gets {@link UploadOffsetError}), checks that the
 * offset is the session's size, streams the bytes into `data` at that offset, and then replaces
 * `size`; the claim goes last. An append that fails leaves `size` as it was, so its bytes never
 * count; the next append overwrites them, and the commit cuts off what lies beyond `size`.
 *
 * Appends are not fsynced: the page cache keeps them across a crash of the process (kill -9), as
 * distribution's filesystem driver does. The commit fsyncs the bytes once, then links the file
 * into `blobs/` (no copy), fsyncs that directory, links the blob into the repository and ends the
 * session. If a power loss drops bytes that an append had acknowledged, a commit can only fail:
 * without the hash state of this process (lost with it) the handler computes the digest again
 * from storage before the commit, and the bytes no longer match it.
 *
 * The commit claims the session's size, so no append can write while it runs, and renames `data`
 * to `sealed` before linking it: the blob and the session's file are the same file, and nothing
 * opens `sealed` for writing. A crash at any step leaves either no blob or a whole one, and the
 * session until the very end; a session ends by being renamed into `tmp/` (atomic: a second
 * cancel answers false, late appends find nothing) and removed there.
 *
 * @module
 */
import { promises as fsp, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeLink } from "./blobs.ts";
import { touchFile } from "./gc.ts";
import {
  ensureDir,
  isMissing,
  randomName,
  readOptional,
  sizeOptional,
  streamToFile,
  syncDir,
  syncFile,
  withDir,
  writeNewFile,
} from "./io.ts";
import type { FsLayout } from "./paths.ts";
import { fileStream } from "./read.ts";
import { sleep } from "./lock.ts";
import { claimOffset } from "./upload_claims.ts";
import {
  type BlobInfo,
  type Digest,
  type UploadInfo,
  UploadOffsetError,
  type UploadStore,
} from "../types.ts";

const decoder = new TextDecoder();
/** Temporary files untouched for this long are left over from a crash. */
const TMP_GRACE_MS = 60 * 60 * 1000;
/** Sessions whose info this adapter remembers (info.json never changes). */
const MAX_REMEMBERED = 1024;
/** How long a commit waits for another commit of the same session to finish. */
const COMMIT_WAIT_MS = 60_000;

interface Stored {
  repository: string;
  algorithm: string;
  createdAt: number;
}

// The session's small files (`size`, and the claims in upload_claims.ts) are read and written
// with synchronous calls: a few microseconds each with the directory in the page cache, where each
// asynchronous call is a thread-pool round trip of ~100 µs on Node 20 (more on a busy machine),
// and an append makes about ten of them (the same trade-off as small_files.ts). Data is always
// written asynchronously.

/** The session's acknowledged size, or undefined when the session directory is gone. */
function readSize(dir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, "size"), "latin1");
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  // Anything else is a `size` a power loss emptied: the session starts over.
  return /^\d+$/.test(text) ? Number(text) : 0;
}

/** Replace the session's size; false when the session directory is gone. */
function writeSize(dir: string, size: number): boolean {
  const tmp = join(dir, `size-${randomName(9)}`);
  try {
    writeFileSync(tmp, String(size), { flag: "wx" });
    renameSync(tmp, join(dir, "size"));
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Make the session's first `size` bytes blob `dest`, unless that blob is stored already: seal
 * `data`, cut off what failed appends left beyond `size`, fsync, link into `blobs/`.
 */
async function storeBlob(dir: string, dest: string, size: number): Promise<void> {
  // Stored once; the touch makes its time now, so a collection running meanwhile keeps it.
  if (await touchFile(dest)) return;
  const sealed = join(dir, "sealed");
  try {
    await fsp.rename(join(dir, "data"), sealed);
  } catch (error) {
    // Sealed by an earlier commit of this session that did not finish.
    if (!isMissing(error)) throw error;
  }
  const handle = await fsp.open(sealed, "r+");
  try {
    const { size: length } = await handle.stat();
    if (length < size) {
      throw new Error(`fsStorage: upload ${dir} holds ${length} of its ${size} bytes`);
    }
    if (length > size) await handle.truncate(size);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // A collection may remove stale content between the link and the touch: link it again then.
  do {
    try {
      await withDir(dest, () => fsp.link(sealed, dest));
    } catch (error) {
      // The same content, stored meanwhile by another commit.
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
  } while (!(await touchFile(dest)));
  await syncDir(dirname(dest));
}

/** The upload store over `layout`. */
export function fsUploads(layout: FsLayout): Required<UploadStore> {
  const infos = new Map<string, Stored>();
  /** The background fsync of a session's bytes this adapter runs (one at a time), by session. */
  let flushing: { id: string; done: Promise<void> } | undefined;

  /**
   * Start writing the session's bytes to disk now, in the background, so that the fsync of the
   * commit finds little left to do; one at a time per adapter (it holds a thread of the pool).
   */
  function flushSoon(id: string, path: string): void {
    if (flushing) return;
    const done = syncFile(path).catch(() => {}).finally(() => {
      flushing = undefined;
    });
    flushing = { id, done };
  }

  async function readInfo(id: string): Promise<Stored | undefined> {
    const dir = layout.upload(id);
    const known = infos.get(id);
    if (known) return known;
    const bytes = await readOptional(join(dir, "info.json"));
    if (!bytes) return undefined;
    const stored = JSON.parse(decoder.decode(bytes)) as Stored;
    if (infos.size >= MAX_REMEMBERED) infos.delete(infos.keys().next().value!);
    infos.set(id, stored);
    return stored;
  }

  /** The stored session, if it exists and belongs to `repository`. */
  async function session(repository: string, id: string): Promise<Stored | undefined> {
    layout.repository(repository);
    const info = await readInfo(id);
    if (!info || info.repository !== repository) return undefined;
    return info;
  }

  /** The session directory is gone: forget what is remembered of it. */
  function gone(id: string): undefined {
    infos.delete(id);
    return undefined;
  }

  /** End a session: move its directory into `tmp/` (atomic), then remove it. */
  async function endSession(id: string): Promise<boolean> {
    const dir = layout.upload(id);
    infos.delete(id);
    await ensureDir(layout.tmp);
    const away = join(layout.tmp, `ended-${randomName()}`);
    try {
      await fsp.rename(dir, away);
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
    await syncDir(layout.uploads);
    await fsp.rm(away, { recursive: true, force: true });
    return true;
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

  /** After the session ended under a commit: the blob, linked, if that commit stored it. */
  async function committedElsewhere(
    repository: string,
    digest: Digest,
  ): Promise<BlobInfo | undefined> {
    if (!(await touchFile(layout.blob(digest)))) return undefined;
    const size = await sizeOptional(layout.blob(digest));
    if (size === undefined) return undefined;
    await writeLink(layout, repository, digest);
    return { digest, size };
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
      // Removed concurrently (another purge, a cancel): not ours to count.
      if (created < before && (await endSession(id).catch(() => false))) purged++;
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
      await fsp.writeFile(join(building, "size"), "0", { flag: "wx" });
      await fsp.writeFile(join(building, "data"), "", { flag: "wx" });
      await syncDir(building);
      const dir = layout.upload(id);
      await withDir(dir, () => fsp.rename(building, dir));
      await syncDir(layout.uploads);
      return toInfo(id, stored, 0);
    },

    async get(repository, id) {
      const stored = await session(repository, id);
      if (!stored) return undefined;
      const size = readSize(layout.upload(id));
      return size === undefined ? gone(id) : toInfo(id, stored, size);
    },

    async append(repository, id, offset, data) {
      const stored = await session(repository, id);
      if (!stored) return undefined;
      const dir = layout.upload(id);
      const claim = await claimOffset(dir, offset, "append");
      if (!("release" in claim)) {
        if (claim.missing) return gone(id);
        // Another append (or the commit) is at work at this offset.
        const size = readSize(dir);
        if (size === undefined) return gone(id);
        throw new UploadOffsetError(size);
      }
      try {
        const size = readSize(dir);
        if (size === undefined) return gone(id);
        if (size !== offset) throw new UploadOffsetError(size);
        let written: number;
        try {
          written = await streamToFile(join(dir, "data"), data, { start: offset, flags: "r+" });
        } catch (error) {
          if (!isMissing(error)) throw error;
          // The session ended while the data streamed in, or a commit sealed it.
          const now = readSize(dir);
          if (now === undefined) return gone(id);
          throw new UploadOffsetError(now);
        }
        if (written > 0) {
          if (!writeSize(dir, offset + written)) return gone(id);
          flushSoon(id, join(dir, "data"));
        }
        return toInfo(id, stored, offset + written);
      } finally {
        await claim.release();
      }
    },

    async read(repository, id) {
      if (!(await session(repository, id))) return undefined;
      const dir = layout.upload(id);
      const size = readSize(dir);
      if (size === undefined) return gone(id);
      let path = join(dir, "data");
      if ((await sizeOptional(path)) === undefined) path = join(dir, "sealed");
      return fileStream([{ path, start: 0, end: size - 1 }]);
    },

    async commit(repository, id, digest, verified): Promise<BlobInfo | undefined> {
      const dest = layout.blob(digest);
      if (!(await session(repository, id))) return undefined;
      const dir = layout.upload(id);
      const deadline = Date.now() + COMMIT_WAIT_MS;
      for (;;) {
        const size = readSize(dir);
        if (size === undefined) return await committedElsewhere(repository, digest);
        const claim = await claimOffset(dir, size, "commit");
        if (!("release" in claim)) {
          if (claim.missing) return await committedElsewhere(repository, digest);
          // An append in flight would change the bytes the handler has just verified.
          if (claim.holder?.kind !== "commit") throw new UploadOffsetError(size);
          // Another commit of this session: its outcome is ours.
          if (Date.now() > deadline) throw new Error(`fsStorage: upload ${id} is committing`);
          await sleep(5);
          continue;
        }
        try {
          // An append finished between reading the size and claiming it: these are not the
          // bytes the handler verified.
          const now = readSize(dir);
          if (now === undefined) return await committedElsewhere(repository, digest);
          if (now !== size) throw new UploadOffsetError(now);
          // Not the bytes the handler verified (appended to after it hashed).
          if (verified !== undefined && now !== verified) throw new UploadOffsetError(now);
          if (flushing?.id === id) await flushing.done;
          await storeBlob(dir, dest, size);
          await writeLink(layout, repository, digest);
          await endSession(id);
        } finally {
          await claim.release();
        }
        const stored = await sizeOptional(dest);
        return stored === undefined ? undefined : { digest, size: stored };
      }
    },

    async cancel(repository, id) {
      if (!(await session(repository, id))) return false;
      return await endSession(id);
    },

    purge,
  };
}
