/**
 * The in-memory storage adapter: the reference implementation of the storage contract, with no
 * dependencies. Single process; everything is lost when the process ends.
 *
 * Blob content is stored once per digest; repositories see it through link sets. Upload sessions
 * keep the list of chunks received (never concatenated, so a push grows memory by about the bytes
 * stored). At commit the content stays that list, read as a stream that copies one piece at a time
 * so ranges never copy the blob; on Bun it becomes one `Blob` instead (copied once), read as the
 * Blob or a slice of it, which Bun sends with its Content-Length (see {@link BLOB_BODIES}).
 *
 * @module
 */
import { detectRuntime } from "../runtime.ts";
import { memoryLeases } from "./memory_lease.ts";
import { pageOf } from "./paging.ts";
import {
  type BlobBody,
  type BlobInfo,
  type ByteRange,
  type CollectableStorage,
  type CreateUploadOptions,
  type Descriptor,
  type Digest,
  type ListOptions,
  type ManifestRecord,
  type Page,
  type StoredBlob,
  type StoredEntry,
  type UploadInfo,
  UploadOffsetError,
} from "./types.ts";

/** Chunks smaller than this are copied together into shared buffers of {@link SLAB} bytes. */
const SMALL = 16 * 1024;
const SLAB = 64 * 1024;
/** Largest piece a read stream enqueues at once. */
const READ_PIECE = 256 * 1024;

/** An append-only list of byte chunks. */
class Chunks {
  readonly list: Uint8Array[] = [];
  size = 0;
  #slab: Uint8Array | undefined;
  #slabUsed = 0;

  /** Keep `chunk` (by reference when it owns its buffer; small or shared views are copied). */
  push(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    this.size += n;
    if (n < SMALL) {
      if (!this.#slab || this.#slabUsed + n > this.#slab.byteLength) {
        this.#slab = new Uint8Array(SLAB);
        this.#slabUsed = 0;
        this.list.push(this.#slab.subarray(0, 0));
      }
      this.#slab.set(chunk, this.#slabUsed);
      this.#slabUsed += n;
      this.list[this.list.length - 1] = this.#slab.subarray(0, this.#slabUsed);
      return;
    }
    this.#slab = undefined;
    // A view of a larger buffer (pooled or shared) is copied so it does not pin the whole buffer.
    const owns = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    this.list.push(owns ? chunk : chunk.slice());
  }

  /** Append every chunk of `other`, by reference. */
  concat(other: Chunks): void {
    for (const c of other.list) this.list.push(c);
    this.size += other.size;
    this.#slab = undefined;
  }
}

/**
 * A stream over `list` from byte `start` to `end` (inclusive). Each piece is a copy, so a consumer
 * that transfers or mutates what it reads cannot touch stored content.
 */
function streamChunks(list: readonly Uint8Array[], start: number, end: number) {
  let index = 0;
  let skip = start;
  let remaining = end - start + 1;
  while (index < list.length && skip >= list[index].byteLength) {
    skip -= list[index].byteLength;
    index++;
  }
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (remaining <= 0 || index >= list.length) {
        controller.close();
        return;
      }
      const chunk = list[index];
      const n = Math.min(chunk.byteLength - skip, remaining, READ_PIECE);
      controller.enqueue(chunk.slice(skip, skip + n));
      remaining -= n;
      skip += n;
      if (skip >= chunk.byteLength) {
        index++;
        skip = 0;
      }
    },
  });
}

interface Session {
  info: UploadInfo;
  chunks: Chunks;
  /** An append is running: a second one at the same offset must fail. */
  appending: boolean;
}

/**
 * Whether committed content is kept as one `Blob` (read as the Blob or a zero-copy slice) rather
 * than as its chunks (read as a stream). True on Bun only: Bun drops the Content-Length of a stream
 * body and sends it chunked (oven-sh/bun#10507; serveBun re-buffers only bodies up to 1 MiB), but
 * keeps it for a Blob. Node and Deno send a Blob body through `Blob.stream()`, measured slower than
 * the chunk stream (bench/results/design_notes.md).
 */
const BLOB_BODIES = detectRuntime() === "bun";

interface Content {
  /** The committed bytes: their chunks, or (with {@link BLOB_BODIES}) one Blob. */
  body: readonly Uint8Array[] | Blob;
  size: number;
  /** Last stored, linked or touched (ms since epoch). */
  touchedAt: number;
}

/** Keep a committed upload's chunks as content. */
function contentOf(chunks: Chunks): Content {
  const list = chunks.list;
  return {
    body: BLOB_BODIES ? new Blob(list as Uint8Array<ArrayBuffer>[]) : list,
    size: chunks.size,
    touchedAt: Date.now(),
  };
}

/** The inclusive byte range `start`-`end` of `content`, without copying the whole of it. */
function bodyOf(content: Content, start: number, end: number): BlobBody {
  const body = content.body;
  if (!(body instanceof Blob)) return streamChunks(body, start, end);
  return start === 0 && end === content.size - 1 ? body : body.slice(start, end + 1);
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_");
}

function inner<K, V>(map: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let m = map.get(key);
  if (!m) map.set(key, m = new Map());
  return m;
}

/** A stored manifest and when it was stored. */
type StoredRecord = ManifestRecord & { storedAt: number };

/** A copy of `record` (without the storage time) that shares no bytes with it. */
function copyRecord(record: ManifestRecord): ManifestRecord {
  const { storedAt: _, ...rest } = record as StoredRecord;
  return { ...rest, bytes: record.bytes.slice() };
}

/**
 * Create an in-memory storage adapter.
 *
 * @example
 * ```ts
 * import { createRegistry, memoryStorage } from "fetch-registry";
 * const registry = createRegistry({ storage: memoryStorage() });
 * ```
 */
export function memoryStorage(): CollectableStorage {
  const contents = new Map<Digest, Content>();
  /** Per repository: linked digest → when linked or last touched. */
  const links = new Map<string, Map<Digest, number>>();
  const sessions = new Map<string, Session>();
  const manifests = new Map<string, Map<Digest, StoredRecord>>();
  const referrers = new Map<string, Map<Digest, Map<Digest, Descriptor>>>();
  const tags = new Map<string, Map<string, Digest>>();

  function linked(repository: string, digest: Digest): Content | undefined {
    return links.get(repository)?.has(digest) ? contents.get(digest) : undefined;
  }

  function addLink(repository: string, digest: Digest): void {
    const now = Date.now();
    inner(links, repository).set(digest, now);
    const c = contents.get(digest);
    if (c) c.touchedAt = now;
  }

  function session(repository: string, id: string): Session | undefined {
    const s = sessions.get(id);
    return s && s.info.repository === repository ? s : undefined;
  }

  function hasManifests(repository: string): boolean {
    return (manifests.get(repository)?.size ?? 0) > 0;
  }

  return {
    blobs: {
      stat(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
        const c = linked(repository, digest);
        return Promise.resolve(c && { digest, size: c.size });
      },
      read(repository: string, digest: Digest, range?: ByteRange): Promise<BlobBody | undefined> {
        const c = linked(repository, digest);
        if (!c) return Promise.resolve(undefined);
        return Promise.resolve(bodyOf(c, range?.start ?? 0, range?.end ?? c.size - 1));
      },
      link(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
        const c = contents.get(digest);
        if (!c) return Promise.resolve(undefined);
        addLink(repository, digest);
        return Promise.resolve({ digest, size: c.size });
      },
      unlink(repository: string, digest: Digest, before?: number): Promise<boolean> {
        const linkedAt = links.get(repository)?.get(digest);
        if (linkedAt === undefined || (before !== undefined && linkedAt >= before)) {
          return Promise.resolve(false);
        }
        return Promise.resolve(links.get(repository)!.delete(digest));
      },
      touch(repository: string, digest: Digest): Promise<boolean> {
        if (!linked(repository, digest)) return Promise.resolve(false);
        addLink(repository, digest);
        return Promise.resolve(true);
      },
      async *links(repository: string): AsyncIterable<StoredEntry> {
        for (const [digest, modifiedAt] of [...(links.get(repository) ?? [])]) {
          yield { digest, modifiedAt };
        }
      },
      async *owners(): AsyncIterable<string> {
        for (const [repository, set] of [...links]) if (set.size > 0) yield repository;
      },
      async *list(): AsyncIterable<StoredBlob> {
        for (const [digest, c] of [...contents]) {
          yield { digest, size: c.size, modifiedAt: c.touchedAt };
        }
      },
      lease: memoryLeases(),
      remove(digest: Digest, before: number): Promise<boolean> {
        const c = contents.get(digest);
        if (!c || c.touchedAt >= before) return Promise.resolve(false);
        return Promise.resolve(contents.delete(digest));
      },
    },

    uploads: {
      create(repository: string, options: CreateUploadOptions): Promise<UploadInfo> {
        const info: UploadInfo = {
          id: randomId(),
          repository,
          size: 0,
          algorithm: options.algorithm,
          createdAt: Date.now(),
        };
        sessions.set(info.id, { info, chunks: new Chunks(), appending: false });
        return Promise.resolve({ ...info });
      },
      get(repository: string, id: string): Promise<UploadInfo | undefined> {
        const s = session(repository, id);
        return Promise.resolve(s && { ...s.info });
      },
      async append(
        repository: string,
        id: string,
        offset: number,
        data: AsyncIterable<Uint8Array>,
      ): Promise<UploadInfo | undefined> {
        const s = session(repository, id);
        if (!s) return undefined;
        if (s.appending || offset !== s.info.size) throw new UploadOffsetError(s.info.size);
        s.appending = true;
        try {
          const received = new Chunks();
          for await (const chunk of data) received.push(chunk);
          // The session may have been committed or cancelled while the data streamed in.
          if (sessions.get(id) !== s) return undefined;
          s.chunks.concat(received);
          s.info.size = s.chunks.size;
          return { ...s.info };
        } finally {
          s.appending = false;
        }
      },
      read(repository: string, id: string): Promise<ReadableStream<Uint8Array> | undefined> {
        const s = session(repository, id);
        if (!s) return Promise.resolve(undefined);
        return Promise.resolve(streamChunks([...s.chunks.list], 0, s.chunks.size - 1));
      },
      commit(
        repository: string,
        id: string,
        digest: Digest,
        size?: number,
      ): Promise<BlobInfo | undefined> {
        const s = session(repository, id);
        if (!s) return Promise.resolve(undefined);
        if (size !== undefined && s.chunks.size !== size) {
          return Promise.reject(new UploadOffsetError(s.chunks.size));
        }
        sessions.delete(id);
        let c = contents.get(digest);
        if (!c) contents.set(digest, c = contentOf(s.chunks));
        addLink(repository, digest);
        return Promise.resolve({ digest, size: c.size });
      },
      cancel(repository: string, id: string): Promise<boolean> {
        const s = session(repository, id);
        if (s) sessions.delete(id);
        return Promise.resolve(s !== undefined);
      },
      purge(before: number): Promise<number> {
        let n = 0;
        for (const [id, s] of sessions) {
          if (s.info.createdAt < before) {
            sessions.delete(id);
            n++;
          }
        }
        return Promise.resolve(n);
      },
    },

    manifests: {
      put(repository: string, manifest: ManifestRecord): Promise<void> {
        const record: StoredRecord = { ...copyRecord(manifest), storedAt: Date.now() };
        const repo = inner(manifests, repository);
        const previous = repo.get(record.digest);
        if (previous?.subject) {
          referrers.get(repository)?.get(previous.subject)?.delete(record.digest);
        }
        repo.set(record.digest, record);
        if (record.subject && record.referrer) {
          inner(inner(referrers, repository), record.subject).set(record.digest, {
            ...record.referrer,
          });
        }
        return Promise.resolve();
      },
      get(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
        const record = manifests.get(repository)?.get(digest);
        return Promise.resolve(record && copyRecord(record));
      },
      delete(repository: string, digest: Digest): Promise<boolean> {
        const repo = manifests.get(repository);
        const record = repo?.get(digest);
        if (!repo || !record) return Promise.resolve(false);
        repo.delete(digest);
        if (repo.size === 0) manifests.delete(repository);
        const repoTags = tags.get(repository);
        if (repoTags) {
          for (const [tag, d] of repoTags) if (d === digest) repoTags.delete(tag);
        }
        if (record.subject) referrers.get(repository)?.get(record.subject)?.delete(digest);
        return Promise.resolve(true);
      },
      referrers(repository: string, subject: Digest): Promise<Descriptor[]> {
        const found = referrers.get(repository)?.get(subject);
        return Promise.resolve(found ? [...found.values()].map((d) => ({ ...d })) : []);
      },
      async *list(repository: string): AsyncIterable<StoredEntry> {
        for (const [digest, record] of [...(manifests.get(repository) ?? [])]) {
          yield { digest, modifiedAt: record.storedAt };
        }
      },
    },

    tags: {
      get(repository: string, tag: string): Promise<Digest | undefined> {
        return Promise.resolve(tags.get(repository)?.get(tag));
      },
      set(repository: string, tag: string, digest: Digest, expected?: Digest | null) {
        const repoTags = inner(tags, repository);
        if (expected !== undefined && (repoTags.get(tag) ?? null) !== expected) {
          return Promise.resolve(false);
        }
        repoTags.set(tag, digest);
        return Promise.resolve(true);
      },
      delete(repository: string, tag: string): Promise<boolean> {
        return Promise.resolve(tags.get(repository)?.delete(tag) ?? false);
      },
      list(repository: string, options: ListOptions): Promise<Page<string> | undefined> {
        if (!hasManifests(repository)) return Promise.resolve(undefined);
        return Promise.resolve(pageOf(tags.get(repository)?.keys() ?? [], options));
      },
    },

    repositories(options: ListOptions): Promise<Page<string>> {
      return Promise.resolve(pageOf(manifests.keys(), options));
    },
  };
}
