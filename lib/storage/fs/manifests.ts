/**
 * Manifests and the referrers index of {@link fsStorage}. A manifest is one file, replaced
 * atomically: a JSON line of metadata (digest, media type, subject, referrer descriptor), a
 * newline, then the exact bytes pushed. The referrers index is a directory per subject holding one
 * descriptor file per referrer, written after the manifest and removed before it, so the index
 * never lists a manifest that is not stored.
 *
 * Consistency: nothing is cached. {@link ManifestStore.get} reads the manifest file on every call
 * (synchronously, see small_files.ts: a few µs instead of ~115 µs on Node), so a manifest
 * deleted by this or any other process on the same root is unknown to the next call, and a
 * re-push is seen at once. Adding or removing a manifest also tells {@link hasManifests}'s cache.
 *
 * @module
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { manifestsOf } from "./gc.ts";
import { listOptional, readOptional, removeFile, syncDir, writeFileAtomic } from "./io.ts";
import type { FsLayout } from "./paths.ts";
import { readSmallFile } from "./small_files.ts";
import { manifestsChanged } from "./tags.ts";
import type { Descriptor, Digest, ManifestRecord, ManifestStore } from "../types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 0x0a;

type Metadata = Omit<ManifestRecord, "bytes">;

function encodeRecord(record: ManifestRecord): Uint8Array {
  const meta: Metadata = { digest: record.digest, mediaType: record.mediaType };
  if (record.subject !== undefined) meta.subject = record.subject;
  if (record.referrer !== undefined) meta.referrer = record.referrer;
  const head = encoder.encode(JSON.stringify(meta) + "\n");
  const out = new Uint8Array(head.byteLength + record.bytes.byteLength);
  out.set(head, 0);
  out.set(record.bytes, head.byteLength);
  return out;
}

function decodeRecord(file: Uint8Array): ManifestRecord {
  const cut = file.indexOf(NEWLINE);
  if (cut < 0) throw new Error("fsStorage: corrupt manifest file");
  const meta = JSON.parse(decoder.decode(file.subarray(0, cut))) as Metadata;
  // A plain Uint8Array (not a Buffer view of the file) of the exact bytes.
  return { ...meta, bytes: new Uint8Array(file.subarray(cut + 1)) };
}

/** The manifest store over `layout`; `untag` removes the tags pointing to a deleted manifest. */
export function fsManifests(
  layout: FsLayout,
  untag: (repository: string, digest: Digest) => Promise<void>,
): Required<ManifestStore> {
  // Async only for the contract: the read itself is synchronous.
  async function get(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const file = readSmallFile(layout.manifest(repository, digest));
    return file && decodeRecord(file);
  }

  return {
    get,
    async put(repository, manifest) {
      // Both paths first: an invalid subject refuses the whole put before anything is written.
      const path = layout.manifest(repository, manifest.digest);
      const indexed = manifest.subject !== undefined && manifest.referrer !== undefined;
      const entry = indexed ? layout.referrer(repository, manifest.subject!, manifest.digest) : "";
      try {
        await writeFileAtomic(layout.tmp, path, encodeRecord(manifest));
      } finally {
        manifestsChanged(layout, repository);
      }
      if (indexed) await writeFileAtomic(layout.tmp, entry, JSON.stringify(manifest.referrer));
    },
    async delete(repository, digest) {
      const record = await get(repository, digest);
      if (!record) return false;
      if (record.subject !== undefined) {
        const dir = layout.referrers(repository, record.subject);
        if (await removeFile(layout.referrer(repository, record.subject, digest))) {
          await syncDir(dir);
          await fsp.rmdir(dir).catch(() => {}); // tidy an empty subject directory
        }
      }
      await untag(repository, digest);
      try {
        if (!(await removeFile(layout.manifest(repository, digest)))) return false;
      } finally {
        manifestsChanged(layout, repository);
      }
      await syncDir(layout.manifests(repository));
      return true;
    },
    async referrers(repository, subject) {
      const dir = layout.referrers(repository, subject);
      const found: Descriptor[] = [];
      for (const name of (await listOptional(dir)).sort()) {
        if (name.startsWith(".")) continue;
        const bytes = await readOptional(join(dir, name));
        if (bytes) found.push(JSON.parse(decoder.decode(bytes)) as Descriptor);
      }
      return found;
    },
    list: (repository) => manifestsOf(layout, repository),
  };
}
