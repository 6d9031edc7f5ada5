/**
 * Blobs of {@link fsStorage}: content stored once under its digest, visible in a repository
 * through an empty link file. Unlink removes only the link; content goes only by garbage
 * collection (`remove`, gc.ts), and a reader that has opened a file can still finish reading it.
 * A link's and a content file's modification time is when they were last made or touched.
 *
 * @module
 */
import { promises as fsp } from "node:fs";
import { dirname } from "node:path";
import { blobsOf, linksOf, ownersOf, removeIfOlder, touchFile } from "./gc.ts";
import { isMissing, removeFile, sizeOptional, syncDir, withDir } from "./io.ts";
import type { FsLayout } from "./paths.ts";
import { fileBody } from "./read.ts";
import type { BlobInfo, BlobStore, Digest } from "../types.ts";

/** Make `repository` link to `digest` (durably); the content must exist. */
export async function writeLink(layout: FsLayout, repository: string, digest: Digest) {
  const path = layout.link(repository, digest);
  await withDir(path, () => fsp.writeFile(path, ""));
  await touchFile(path); // an existing link is rewritten in place: make its time now, explicitly
  await syncDir(dirname(path));
}

/** The blob store over `layout`. */
export function fsBlobs(layout: FsLayout): Required<Omit<BlobStore, "redirectUrl" | "lease">> {
  async function stat(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
    const link = layout.link(repository, digest);
    const path = layout.blob(digest);
    try {
      await fsp.access(link);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const size = await sizeOptional(path);
    return size === undefined ? undefined : { digest, size };
  }

  return {
    stat,
    async read(repository, digest, range) {
      const info = await stat(repository, digest);
      return info && fileBody(layout.blob(digest), info.size, range);
    },
    async link(repository, digest) {
      layout.link(repository, digest); // refuse invalid input before looking at anything
      // The touch keeps a collection that has not yet decided from removing the content.
      if (!(await touchFile(layout.blob(digest)))) return undefined;
      const size = await sizeOptional(layout.blob(digest));
      if (size === undefined) return undefined;
      await writeLink(layout, repository, digest);
      return { digest, size };
    },
    async unlink(repository, digest, before) {
      const path = layout.link(repository, digest);
      if (before !== undefined) return await removeIfOlder(path, before);
      if (!(await removeFile(path))) return false;
      await syncDir(dirname(path));
      return true;
    },
    async touch(repository, digest) {
      return await touchFile(layout.link(repository, digest)) &&
        await touchFile(layout.blob(digest));
    },
    links: (repository) => linksOf(layout, repository),
    owners: () => ownersOf(layout),
    list: () => blobsOf(layout),
    remove: (digest, before) => removeIfOlder(layout.blob(digest), before),
  };
}
