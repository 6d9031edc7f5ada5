/**
 * The mark phase of one repository: which manifests and which blob links it keeps.
 *
 * Memory: the repository's manifest list, its tagged digests and the kept sets, all bounded by
 * the size of that one repository (never the registry).
 *
 * @module
 */
import { referencesOf } from "./references.ts";
import type { CollectableStorage, StoredEntry } from "../storage/types.ts";

/** What one repository keeps. */
export interface Marked {
  /** Every manifest of the repository, with its time. */
  manifests: StoredEntry[];
  /** Digests of the manifests kept. */
  keptManifests: Set<string>;
  /** Digests of the blobs whose links are kept. */
  keptBlobs: Set<string>;
}

/** Options of {@link markRepository}. */
export interface MarkOptions {
  /** Anything written or touched at or after this time (ms since epoch) is kept. */
  cutoff: number;
  /** Whether untagged manifests may go (else every manifest is a root). */
  untagged: boolean;
}

/** The tagged digests of `repository`, page by page. */
async function taggedDigests(storage: CollectableStorage, repository: string): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await storage.tags.list(repository, { after, limit: 1000 });
    if (!page) return out;
    for (const tag of page.items) {
      const digest = await storage.tags.get(repository, tag);
      if (digest !== undefined) out.push(digest);
    }
    if (!page.more || page.items.length === 0) return out;
    after = page.items[page.items.length - 1];
  }
}

/**
 * Mark `repository`: roots are tagged manifests, manifests newer than the cutoff, and (unless
 * `untagged`) every manifest; then everything a kept index references, recursively, and the
 * referrers of kept manifests; the blobs of kept manifests (config, layers, subject).
 *
 * @example
 * ```ts
 * const marked = await markRepository(storage, "library/alpine", { cutoff, untagged: false });
 * ```
 */
export async function markRepository(
  storage: CollectableStorage,
  repository: string,
  options: MarkOptions,
): Promise<Marked> {
  const manifests: StoredEntry[] = [];
  for await (const entry of storage.manifests.list(repository)) manifests.push(entry);
  const keptManifests = new Set<string>();
  const keptBlobs = new Set<string>();
  const queue: string[] = await taggedDigests(storage, repository);
  for (const entry of manifests) {
    if (!options.untagged || entry.modifiedAt >= options.cutoff) queue.push(entry.digest);
  }
  const visit = async (digest: string) => {
    if (keptManifests.has(digest)) return;
    const record = await storage.manifests.get(repository, digest);
    if (!record) return; // a tag to a missing manifest, or a sparse index's child
    keptManifests.add(digest);
    const refs = referencesOf(record.bytes);
    for (const blob of refs.blobs) keptBlobs.add(blob);
    if (refs.subject !== undefined) keptBlobs.add(refs.subject);
    queue.push(...refs.manifests);
    for (const referrer of await storage.manifests.referrers(repository, digest)) {
      queue.push(referrer.digest);
    }
  };
  while (queue.length > 0) await visit(queue.pop()!);
  return { manifests, keptManifests, keptBlobs };
}
