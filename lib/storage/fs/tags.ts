/**
 * Tags of {@link fsStorage}: one small file per tag holding its digest, replaced atomically, with
 * every change made under the tag's lock file so that compare-and-swap is exact between processes.
 *
 * Consistency: {@link TagStore.get} reads the tag file on every call (synchronously, see
 * small_files.ts) and caches nothing, so it answers what the filesystem holds at that moment,
 * whichever process or replica moved the tag. {@link TagStore.list} pages through the sorted tag
 * names of the directory, cached per repository by {@link DirCache} and validated on every call by
 * a `stat` of the tags directory: this process's own tag changes are always visible to its next
 * call, and other processes' changes on the same root are visible under the assumptions stated in
 * dir_cache.ts (local filesystem or synchronised clocks, no client-side attribute cache).
 *
 * @module
 */
import { removeFile, syncDir, writeFileAtomic } from "./io.ts";
import { DirCache } from "./dir_cache.ts";
import { withLock } from "./lock.ts";
import { decodeTag, type FsLayout } from "./paths.ts";
import { byteOrder, pageOfSorted } from "../paging.ts";
import { readSmallFile } from "./small_files.ts";
import type { Digest, ListOptions, Page, TagStore } from "../types.ts";

const decoder = new TextDecoder();

/** Whether each cached manifests directory holds at least one manifest (shared by every root). */
const manifestPresence = new DirCache<boolean>(
  (names) => names.some((n) => !n.startsWith(".")),
  { maxEntries: 1024 },
);

/** Whether `repository` holds at least one manifest. */
export async function hasManifests(layout: FsLayout, repository: string): Promise<boolean> {
  return (await manifestPresence.get(layout.manifests(repository))) ?? false;
}

/**
 * Forget what {@link hasManifests} knows of `repository`: call after this process added or
 * removed one of its manifests.
 */
export function manifestsChanged(layout: FsLayout, repository: string): void {
  manifestPresence.invalidate(layout.manifests(repository));
}

/** The tags of a directory's entry names, sorted in byte order (lock files are no tags). */
function sortedTags(names: string[]): readonly string[] {
  const tags: string[] = [];
  for (const name of names) {
    const tag = decodeTag(name);
    if (tag !== undefined) tags.push(tag);
  }
  return tags.sort(byteOrder);
}

/** The tag store over `layout`. */
export function fsTags(layout: FsLayout): Required<TagStore> & {
  /** Remove `tag` only if it still points to `digest`. */
  deleteIf(repository: string, tag: string, digest: Digest): Promise<boolean>;
  /** Every tag of `repository` (a fresh array, in byte order). */
  all(repository: string): Promise<string[]>;
} {
  // At most ~500,000 tag names kept (tens of MiB); a larger repository is listed per page.
  const listings = new DirCache(sortedTags, {
    weigh: (tags) => tags.length,
    maxWeight: 500_000,
  });

  // Synchronous read (small_files.ts); async only so that the store's contract holds.
  function read(repository: string, tag: string): Digest | undefined {
    const bytes = readSmallFile(layout.tag(repository, tag));
    return bytes && decoder.decode(bytes).trim();
  }

  /** Run a change of `repository`'s tags directory, then forget its cached listing. */
  async function changing<T>(repository: string, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      listings.invalidate(layout.tags(repository));
    }
  }

  async function remove(repository: string, tag: string): Promise<boolean> {
    const path = layout.tag(repository, tag);
    if (!(await removeFile(path))) return false;
    await syncDir(layout.tags(repository));
    return true;
  }

  return {
    async get(repository, tag) {
      return read(repository, tag);
    },
    async all(repository) {
      return [...((await listings.get(layout.tags(repository))) ?? [])];
    },
    async set(repository, tag, digest, expected) {
      const path = layout.tag(repository, tag);
      layout.digestName(digest); // refuse anything but a digest as content
      return await changing(
        repository,
        () =>
          withLock(layout.tagLock(repository, tag), async () => {
            if (expected !== undefined && (read(repository, tag) ?? null) !== expected) {
              return false;
            }
            await writeFileAtomic(layout.tmp, path, digest);
            return true;
          }),
      );
    },
    async delete(repository, tag) {
      // Absent: nothing to lock (and no directories created for an unknown repository).
      if (read(repository, tag) === undefined) return false;
      return await changing(
        repository,
        () => withLock(layout.tagLock(repository, tag), () => remove(repository, tag)),
      );
    },
    async deleteIf(repository, tag, digest) {
      // Unlocked first look: deleting a manifest asks this of every tag of the repository.
      if (read(repository, tag) !== digest) return false;
      return await changing(
        repository,
        () =>
          withLock(layout.tagLock(repository, tag), async () => {
            if (read(repository, tag) !== digest) return false;
            return await remove(repository, tag);
          }),
      );
    },
    async list(repository: string, options: ListOptions): Promise<Page<string> | undefined> {
      if (!(await hasManifests(layout, repository))) return undefined;
      return pageOfSorted((await listings.get(layout.tags(repository))) ?? [], options);
    },
  };
}
