/**
 * What garbage collection needs of {@link fsStorage} (capability gc): enumeration with file
 * times, touch, and removal decided atomically against a touch.
 *
 * Times are file modification times. A touch sets them to now with `utimes`, which fails when the
 * file is gone. A conditional removal first renames the file aside to `.gc-<name>` in its own
 * directory (atomic), then reads the time of what it moved: a touch that came first shows in that
 * time and the file is renamed back; a touch that comes after finds no file and fails, so it never
 * counts on something being removed. A crash between the two steps leaves the `.gc-` file, which
 * the next enumeration of that directory renames back (the next collection decides again).
 *
 * @module
 */
import { promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";
import { isMissing, listOptional, removeFile, syncDir } from "./io.ts";
import type { FsLayout } from "./paths.ts";
import { isValidName, parseDigest } from "../../grammar.ts";
import type { Digest, StoredBlob, StoredEntry } from "../types.ts";

/** The prefix of a file renamed aside by a conditional removal. */
const ASIDE = ".gc-";

/** Set the modification time of `path` to now; false when it does not exist. */
export async function touchFile(path: string): Promise<boolean> {
  const now = new Date();
  try {
    await fsp.utimes(path, now, now);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Remove `path` if it was last modified before `before` (ms since epoch), atomically against
 * {@link touchFile}. True if removed.
 */
export async function removeIfOlder(path: string, before: number): Promise<boolean> {
  const aside = join(dirname(path), ASIDE + basename(path));
  try {
    await fsp.rename(path, aside);
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
  const { mtimeMs } = await fsp.stat(aside);
  if (mtimeMs >= before) {
    await fsp.rename(aside, path);
    return false;
  }
  await removeFile(aside);
  await syncDir(dirname(path));
  return true;
}

/** Rename back what a crashed removal left aside in `dir`; answers the names in `dir` after. */
async function namesRestored(dir: string): Promise<string[]> {
  const names = await listOptional(dir);
  const present = new Set(names);
  const out: string[] = [];
  for (const name of names) {
    if (!name.startsWith(ASIDE)) {
      if (!name.startsWith(".")) out.push(name);
      continue;
    }
    const original = name.slice(ASIDE.length);
    if (present.has(original)) {
      await removeFile(join(dir, name));
      continue;
    }
    try {
      await fsp.rename(join(dir, name), join(dir, original));
      out.push(original);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
  return out;
}

/** The digest a file name `alg-hex` stands for, or undefined. */
function digestOfName(name: string): Digest | undefined {
  const cut = name.indexOf("-");
  if (cut < 0) return undefined;
  const digest = `${name.slice(0, cut)}:${name.slice(cut + 1)}`;
  return parseDigest(digest) ? digest : undefined;
}

/** The files named by digest in `dir`, with their modification times. */
async function* entriesOf(dir: string): AsyncGenerator<StoredEntry> {
  for (const name of await namesRestored(dir)) {
    const digest = digestOfName(name);
    if (digest === undefined) continue;
    try {
      const { mtimeMs } = await fsp.stat(join(dir, name));
      yield { digest, modifiedAt: mtimeMs };
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
}

/** The links of `repository`. */
export function linksOf(layout: FsLayout, repository: string): AsyncIterable<StoredEntry> {
  return entriesOf(dirname(layout.link(repository, `sha256:${"0".repeat(64)}`)));
}

/** The manifests of `repository`. */
export function manifestsOf(layout: FsLayout, repository: string): AsyncIterable<StoredEntry> {
  return entriesOf(layout.manifests(repository));
}

/** Every stored blob: one directory of `blobs/<alg>/<xx>/` at a time. */
export async function* blobsOf(layout: FsLayout): AsyncGenerator<StoredBlob> {
  const root = join(layout.root, "blobs");
  for (const algorithm of (await listOptional(root)).sort()) {
    for (const prefix of (await listOptional(join(root, algorithm))).sort()) {
      const dir = join(root, algorithm, prefix);
      for (const encoded of await namesRestored(dir)) {
        const digest = `${algorithm}:${encoded}`;
        if (!parseDigest(digest)) continue;
        try {
          const { mtimeMs, size } = await fsp.stat(join(dir, encoded));
          yield { digest, size, modifiedAt: mtimeMs };
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
    }
  }
}

/** Every repository under `dir` (named `prefix`…) with a `_links` directory, depth first. */
async function* ownersUnder(dir: string, prefix: string): AsyncGenerator<string> {
  for (const name of (await listOptional(dir)).sort()) {
    if (name === "_links" && prefix) yield prefix;
    if (name.startsWith("_") || name.startsWith(".")) continue;
    const repository = prefix ? `${prefix}/${name}` : name;
    if (!isValidName(repository)) continue;
    const child = join(dir, name);
    const stat = await fsp.stat(child).catch(() => undefined);
    if (stat?.isDirectory()) yield* ownersUnder(child, repository);
  }
}

/** Every repository holding a link (or an empty `_links` directory). */
export function ownersOf(layout: FsLayout): AsyncIterable<string> {
  return ownersUnder(layout.repositories, "");
}
