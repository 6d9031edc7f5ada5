/**
 * Tags of {@link fsStorage}: one small file per tag holding its digest, replaced atomically, with
 * every change made under the tag's lock file so that compare-and-swap is exact between processes.
 *
 * @module
 */
import { listOptional, readOptional, removeFile, syncDir, writeFileAtomic } from "./fs_io.ts";
import { withLock } from "./fs_lock.ts";
import { decodeTag, type FsLayout } from "./fs_paths.ts";
import { pageOf } from "./paging.ts";
import type { Digest, ListOptions, Page, TagStore } from "./types.ts";

const decoder = new TextDecoder();

/** Whether `repository` holds at least one manifest. */
export async function hasManifests(layout: FsLayout, repository: string): Promise<boolean> {
  const names = await listOptional(layout.manifests(repository));
  return names.some((n) => !n.startsWith("."));
}

/** The tag store over `layout`. */
export function fsTags(layout: FsLayout): TagStore & {
  /** Remove `tag` only if it still points to `digest`. */
  deleteIf(repository: string, tag: string, digest: Digest): Promise<boolean>;
  /** Every tag of `repository` (unsorted). */
  all(repository: string): Promise<string[]>;
} {
  async function get(repository: string, tag: string): Promise<Digest | undefined> {
    const bytes = await readOptional(layout.tag(repository, tag));
    return bytes && decoder.decode(bytes).trim();
  }

  async function remove(repository: string, tag: string): Promise<boolean> {
    const path = layout.tag(repository, tag);
    if (!(await removeFile(path))) return false;
    await syncDir(layout.tags(repository));
    return true;
  }

  async function all(repository: string): Promise<string[]> {
    const tags: string[] = [];
    for (const name of await listOptional(layout.tags(repository))) {
      const tag = decodeTag(name);
      if (tag !== undefined) tags.push(tag);
    }
    return tags;
  }

  return {
    get,
    all,
    async set(repository, tag, digest, expected) {
      const path = layout.tag(repository, tag);
      layout.digestName(digest); // refuse anything but a digest as content
      return await withLock(layout.tagLock(repository, tag), async () => {
        if (expected !== undefined && ((await get(repository, tag)) ?? null) !== expected) {
          return false;
        }
        await writeFileAtomic(layout.tmp, path, digest);
        return true;
      });
    },
    async delete(repository, tag) {
      // Absent: nothing to lock (and no directories created for an unknown repository).
      if ((await get(repository, tag)) === undefined) return false;
      return await withLock(layout.tagLock(repository, tag), () => remove(repository, tag));
    },
    async deleteIf(repository, tag, digest) {
      return await withLock(layout.tagLock(repository, tag), async () => {
        if ((await get(repository, tag)) !== digest) return false;
        return await remove(repository, tag);
      });
    },
    async list(repository: string, options: ListOptions): Promise<Page<string> | undefined> {
      if (!(await hasManifests(layout, repository))) return undefined;
      return pageOf(await all(repository), options);
    },
  };
}
