/**
 * The filesystem storage adapter, on node:fs only (Node, Deno and Bun all implement it: one code
 * path for the three runtimes). The layout is in paths.ts; each store lives in its own module.
 *
 * Guarantees: blobs are content-addressed and stored once; every write reaches its final name by
 * an atomic rename or link after an fsync, and directories are fsynced, so a crash at any moment
 * leaves no partial blob, manifest or tag visible and loses nothing acknowledged; upload sessions
 * live on disk and continue after a restart or from another process on the same root; tag updates
 * are compare-and-swap under a lock file; two concurrent pushes of the same blob or tag both
 * succeed with one consistent result; every name is checked against the grammar before a path is
 * built, so nothing escapes the root.
 *
 * @module
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { fsBlobs } from "./blobs.ts";
import { listOptional } from "./io.ts";
import { fsLeases } from "./lease.ts";
import { fsManifests } from "./manifests.ts";
import { FsLayout } from "./paths.ts";
import { fsTags, hasManifests } from "./tags.ts";
import { fsUploads } from "./uploads.ts";
import { isValidName } from "../../grammar.ts";
import { pageOf } from "../paging.ts";
import type { CollectableStorage, ListOptions, Page } from "../types.ts";

/** Options of {@link fsStorage}. */
export interface FsStorageOptions {
  /** The directory everything is stored under (created as needed). */
  root: string;
}

/** Every repository under `dir` (named `prefix`…) that holds a manifest. */
async function findRepositories(
  layout: FsLayout,
  dir: string,
  prefix: string,
  found: string[],
): Promise<void> {
  for (const name of await listOptional(dir)) {
    if (name.startsWith("_") || name.startsWith(".")) continue;
    const repository = prefix ? `${prefix}/${name}` : name;
    if (!isValidName(repository)) continue;
    const child = join(dir, name);
    const stat = await fsp.stat(child).catch(() => undefined);
    if (!stat?.isDirectory()) continue;
    if (await hasManifests(layout, repository)) found.push(repository);
    await findRepositories(layout, child, repository, found);
  }
}

/**
 * Create a filesystem storage adapter rooted at `options.root`. It has every optional capability
 * of the contract; upload expiry is the registry handler's (its `uploadTtlMs`), which calls
 * `uploads.purge`: the adapter keeps no TTL or timer of its own.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { fsStorage } from "fetch-registry/fs";
 * const registry = createRegistry({ storage: fsStorage({ root: "./data" }) });
 * ```
 */
export function fsStorage(options: FsStorageOptions): CollectableStorage {
  const layout = new FsLayout(options.root);
  const tags = fsTags(layout);
  const untag = async (repository: string, digest: string) => {
    for (const tag of await tags.all(repository)) await tags.deleteIf(repository, tag, digest);
  };
  return {
    blobs: { ...fsBlobs(layout), lease: fsLeases(layout) },
    uploads: fsUploads(layout),
    manifests: fsManifests(layout, untag),
    tags,
    async repositories(list: ListOptions): Promise<Page<string>> {
      const found: string[] = [];
      await findRepositories(layout, layout.repositories, "", found);
      return pageOf(found, list);
    },
  };
}
