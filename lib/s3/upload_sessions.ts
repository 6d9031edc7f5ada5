/**
 * Upload sessions over S3, for stateless replicas: every bit of session state lives in the
 * bucket, so any replica can serve any request of a session.
 *
 * - The state object (`uploads/<id>/state`, JSON) holds the size, the multipart UploadId with the
 *   parts uploaded so far (number, ETag, size), and the pending tail: the received bytes that do
 *   not fill a part yet, stored as an object of their own. Every write of it is conditional
 *   (`If-Match` on the ETag read, `If-None-Match: *` at create), and every write carries a fresh
 *   nonce so that its ETag (an MD5 of the body) never repeats.
 * - An append first claims the session with a conditional write (a lease, renewed while bytes
 *   flow), so a second append at the same offset, on any replica, fails at once with
 *   {@link UploadOffsetError}; then it re-buffers tail + new bytes into parts of `partSize`
 *   (the last part of an upload may be smaller; no other may be under 5 MiB), uploads each full
 *   part as buffered bytes (at most one part uploading while the next fills), stores the new tail,
 *   and releases the claim with the new size in one conditional write. A failed append leaves the
 *   recorded state as it was: parts it uploaded past the recorded ones are overwritten by the next
 *   append and never listed at completion.
 * - Small blobs never start a multipart upload: their bytes stay in the tail object, which commit
 *   copies to the blob key.
 * - Reading the received bytes (to re-hash on another replica) completes the multipart upload,
 *   tail included, into `uploads/<id>/data`: S3 cannot read parts of an upload in progress. A later
 *   append starts a new multipart upload whose first part is a server-side copy of that object.
 * - Commit (the handler has verified the digest) completes into `uploads/<id>/data` if needed, then
 *   copies that object (or the tail object) to the content-addressed key in one CopyObject, so
 *   the blob key appears atomically and only after verification; then links it into the
 *   repository and deletes the session. Cancel and purge abort the multipart upload.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  type BlobInfo,
  type CreateUploadOptions,
  type UploadInfo,
  UploadOffsetError,
  type UploadStore,
} from "../storage/types.ts";
import type { S3Client } from "./client.ts";
import type { Layout } from "./layout.ts";

/** S3's smallest part (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest part, and the largest single CopyObject. */
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** S3's largest part number. */
const MAX_PARTS = 10_000;

/** Options of {@link s3UploadStore}. */
export interface S3UploadStoreOptions {
  /** Part size in bytes (>= 5 MiB). */
  partSize: number;
  /**
   * How long an append's claim on a session holds without bytes arriving, in ms (default 60 s).
   * A replica that dies mid-append blocks its session for at most this long.
   */
  leaseMs?: number;
}

interface StoredPart {
  n: number;
  etag: string;
  size: number;
}

/** The session state as stored in the bucket. */
interface SessionState {
  id: string;
  repository: string;
  algorithm: string;
  createdAt: number;
  size: number;
  /** Fresh per write, so the state's ETag never repeats. */
  nonce: string;
  /** The multipart upload in progress (at `uploads/<id>/data`) and its recorded parts. */
  multipart?: { uploadId: string; parts: StoredPart[] };
  /** Bytes completed into `uploads/<id>/data` (after a read), when no multipart is in progress. */
  base?: number;
  /** Received bytes after the parts (or base), shorter than a part. */
  tail?: { key: string; size: number };
  /** The append holding the session. */
  writer?: { token: string; renewedAt: number };
}

interface Loaded {
  state: SessionState;
  etag: string;
}

/** An error thrown by the data being appended (the client's body), kept apart from S3 errors. */
class DataFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

function token(bytes = 12): string {
  return randomBytes(bytes).toString("base64url");
}

function infoOf(state: SessionState): UploadInfo {
  return {
    id: state.id,
    repository: state.repository,
    size: state.size,
    algorithm: state.algorithm,
    createdAt: state.createdAt,
  };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === size) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Ranges of at most 5 GiB and at least 5 MiB covering `size` bytes (size >= 5 MiB). */
function copyRanges(size: number): { start: number; end: number }[] {
  const count = Math.ceil(size / (MAX_PART_SIZE - MIN_PART_SIZE));
  const step = Math.ceil(size / count);
  const ranges = [];
  for (let start = 0; start < size; start += step) {
    ranges.push({ start, end: Math.min(size, start + step) - 1 });
  }
  return ranges;
}

/** A stream of the objects `keys`, one after another, each fetched when the previous ends. */
function concatObjects(s3: S3Client, keys: string[]): ReadableStream<Uint8Array> {
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (!reader) {
          if (index >= keys.length) {
            controller.close();
            return;
          }
          const object = await s3.getObject(keys[index++]);
          if (!object) throw new Error(`upload object ${keys[index - 1]} is missing`);
          reader = object.body.getReader();
        }
        const { done, value } = await reader.read();
        if (done) {
          reader = undefined;
          continue;
        }
        if (value.byteLength > 0) {
          controller.enqueue(value);
          return;
        }
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

/**
 * Upload sessions kept in the bucket (see the module docs).
 *
 * @example
 * ```ts
 * const uploads = s3UploadStore(client, createLayout("registry"), { partSize: 8 << 20 });
 * const session = await uploads.create("lib/app", { algorithm: "sha256" });
 * ```
 */
export function s3UploadStore(
  s3: S3Client,
  layout: Layout,
  options: S3UploadStoreOptions,
): UploadStore {
  const partSize = options.partSize;
  const leaseMs = options.leaseMs ?? 60_000;

  async function load(id: string): Promise<Loaded | undefined> {
    const object = await s3.getBytes(layout.uploadState(id));
    if (!object) return undefined;
    return { state: JSON.parse(new TextDecoder().decode(object.bytes)), etag: object.etag };
  }

  async function loadIn(repository: string, id: string): Promise<Loaded | undefined> {
    const loaded = await load(id);
    return loaded && loaded.state.repository === repository ? loaded : undefined;
  }

  /** Write the state if it is still `etag` (`null`: if there is none). New ETag, or undefined. */
  async function save(state: SessionState, etag: string | null): Promise<string | undefined> {
    state.nonce = token(9);
    const body = JSON.stringify(state);
    return await s3.putObject(
      layout.uploadState(state.id),
      body,
      etag === null
        ? { ifNoneMatch: "*", contentType: "application/json" }
        : { ifMatch: etag, contentType: "application/json" },
    );
  }

  function leased(state: SessionState): boolean {
    return state.writer !== undefined && Date.now() - state.writer.renewedAt < leaseMs;
  }

  /** Delete every object of a session but its state. */
  async function removeObjects(id: string, keep?: string): Promise<void> {
    const keys: string[] = [];
    for await (const page of s3.listAll({ prefix: layout.upload(id) })) {
      for (const o of page.objects) if (o.key !== keep) keys.push(o.key);
    }
    await s3.deleteObjects(keys);
  }

  /** Copy `source` to `target` server-side (multipart copy above 5 GiB). */
  async function copy(source: string, target: string, size: number): Promise<void> {
    if (size <= MAX_PART_SIZE) {
      await s3.copyObject(source, target);
      return;
    }
    const uploadId = await s3.createMultipartUpload(target);
    try {
      const parts = [];
      let n = 1;
      for (const range of copyRanges(size)) {
        parts.push({
          partNumber: n,
          etag: await s3.uploadPartCopy(target, uploadId, n, source, range),
        });
        n++;
      }
      await s3.completeMultipartUpload(target, uploadId, parts);
    } catch (error) {
      await s3.abortMultipartUpload(target, uploadId).catch(() => {});
      throw error;
    }
  }

  /**
   * Make every received byte readable as one object, `uploads/<id>/data`: complete the multipart
   * upload with the tail as its last part, or merge a base and a tail. Answers the new state.
   */
  async function materialize(loaded: Loaded): Promise<SessionState> {
    const { state } = loaded;
    const dataKey = layout.uploadData(state.id);
    const tail = state.tail;
    if (!state.multipart && !(state.base !== undefined && tail)) return state;
    let uploadId: string;
    let parts: { partNumber: number; etag: string }[];
    if (state.multipart) {
      uploadId = state.multipart.uploadId;
      parts = state.multipart.parts.map((p) => ({ partNumber: p.n, etag: p.etag }));
    } else {
      uploadId = await s3.createMultipartUpload(dataKey);
      parts = [];
      for (const range of copyRanges(state.base!)) {
        const n = parts.length + 1;
        parts.push({
          partNumber: n,
          etag: await s3.uploadPartCopy(dataKey, uploadId, n, dataKey, range),
        });
      }
    }
    if (tail) {
      const object = await s3.getBytes(tail.key);
      if (!object) throw new Error(`upload tail ${tail.key} is missing`);
      const n = parts.length + 1;
      parts.push({ partNumber: n, etag: await s3.uploadPart(dataKey, uploadId, n, object.bytes) });
    }
    await s3.completeMultipartUpload(dataKey, uploadId, parts);
    const next: SessionState = {
      ...state,
      multipart: undefined,
      base: state.size,
      tail: undefined,
    };
    delete next.writer;
    if ((await save(next, loaded.etag)) === undefined) {
      throw new Error(`upload ${state.id} changed while its bytes were being completed`);
    }
    if (tail) await s3.deleteObject(tail.key);
    return next;
  }

  async function append(
    repository: string,
    id: string,
    offset: number,
    data: AsyncIterable<Uint8Array>,
  ): Promise<UploadInfo | undefined> {
    const loaded = await loadIn(repository, id);
    if (!loaded) return undefined;
    const { state } = loaded;
    if (offset !== state.size || leased(state)) throw new UploadOffsetError(state.size);

    // Claim the session: one conditional write decides between concurrent appends.
    const writer = { token: token(), renewedAt: Date.now() };
    const claimed: SessionState = { ...state, writer };
    let claimEtag = await save(claimed, loaded.etag);
    if (claimEtag === undefined) {
      const now = await loadIn(repository, id);
      if (!now) return undefined;
      throw new UploadOffsetError(now.state.size);
    }

    const dataKey = layout.uploadData(id);
    let multipart = state.multipart
      ? { uploadId: state.multipart.uploadId, parts: [...state.multipart.parts] }
      : undefined;
    let base = state.base;
    let createdUploadId: string | undefined;
    let nextPart = (multipart?.parts.length ?? 0) + 1;
    let pending: Uint8Array[] = [];
    let pendingSize = 0;
    let tailLoaded = false;
    let received = 0;
    let inflight: Promise<void> | undefined;
    let newTail: { key: string; size: number } | undefined;

    const renew = async () => {
      writer.renewedAt = Date.now();
      claimEtag = await save({ ...claimed, writer }, claimEtag!);
      if (claimEtag === undefined) throw new Error("the session's claim was lost");
    };

    const flush = async (part: Uint8Array) => {
      if (!multipart) {
        const uploadId = await s3.createMultipartUpload(dataKey);
        createdUploadId = uploadId;
        multipart = { uploadId, parts: [] };
        if (base !== undefined) {
          for (const range of copyRanges(base)) {
            const n = multipart.parts.length + 1;
            const etag = await s3.uploadPartCopy(dataKey, uploadId, n, dataKey, range);
            multipart.parts.push({ n, etag, size: range.end - range.start + 1 });
          }
          base = undefined;
        }
        nextPart = multipart.parts.length + 1;
      }
      if (nextPart > MAX_PARTS) throw new Error(`upload ${id} exceeds ${MAX_PARTS} parts`);
      const n = nextPart++;
      const target = multipart;
      if (inflight) await inflight;
      const upload = s3.uploadPart(dataKey, target.uploadId, n, part).then((etag) => {
        target.parts.push({ n, etag, size: part.byteLength });
      });
      upload.catch(() => {});
      inflight = upload;
    };

    const cleanup = async () => {
      if (inflight) await inflight.catch(() => {});
      if (newTail) await s3.deleteObject(newTail.key).catch(() => {});
      if (createdUploadId) await s3.abortMultipartUpload(dataKey, createdUploadId).catch(() => {});
    };

    try {
      const iterator = data[Symbol.asyncIterator]();
      for (;;) {
        let step: IteratorResult<Uint8Array>;
        try {
          step = await iterator.next();
        } catch (error) {
          throw new DataFailure(error);
        }
        if (step.done) break;
        const chunk = step.value;
        if (chunk.byteLength === 0) continue;
        if (!tailLoaded) {
          tailLoaded = true;
          if (state.tail) {
            const object = await s3.getBytes(state.tail.key);
            if (!object) throw new Error(`upload tail ${state.tail.key} is missing`);
            pending.push(object.bytes);
            pendingSize += object.bytes.byteLength;
          }
        }
        pending.push(chunk);
        pendingSize += chunk.byteLength;
        received += chunk.byteLength;
        while (pendingSize >= partSize) {
          const all = concat(pending, pendingSize);
          await flush(all.subarray(0, partSize));
          const rest = all.subarray(partSize);
          pending = rest.byteLength > 0 ? [rest] : [];
          pendingSize = rest.byteLength;
        }
        if (Date.now() - writer.renewedAt > leaseMs / 3) await renew();
      }
      if (inflight) await inflight;
      inflight = undefined;
      let tail = state.tail;
      if (received > 0) {
        tail = undefined;
        if (pendingSize > 0) {
          newTail = { key: layout.uploadTail(id, writer.token), size: pendingSize };
          await s3.putObject(newTail.key, concat(pending, pendingSize));
          tail = newTail;
        }
      }
      const next: SessionState = {
        ...state,
        size: state.size + received,
        multipart,
        base,
        tail,
      };
      delete next.writer;
      if ((await save(next, claimEtag!)) === undefined) {
        throw new Error("the session's claim was lost");
      }
      if (state.tail && state.tail.key !== tail?.key) {
        await s3.deleteObject(state.tail.key).catch(() => {});
      }
      return infoOf(next);
    } catch (error) {
      await cleanup();
      if (error instanceof DataFailure) {
        // Release the claim, leaving the state as it was.
        const released: SessionState = { ...state };
        delete released.writer;
        if (claimEtag) await save(released, claimEtag).catch(() => {});
        throw error.error;
      }
      const now = await loadIn(repository, id).catch(() => undefined);
      if (!now) return undefined;
      if (now.state.writer?.token === writer.token) {
        const released: SessionState = { ...now.state };
        delete released.writer;
        await save(released, now.etag).catch(() => {});
        throw error;
      }
      throw new UploadOffsetError(now.state.size);
    }
  }

  return {
    async create(repository: string, options: CreateUploadOptions): Promise<UploadInfo> {
      const createdAt = Date.now();
      const state: SessionState = {
        id: `${createdAt.toString(36)}-${token(18)}`,
        repository,
        algorithm: options.algorithm,
        createdAt,
        size: 0,
        nonce: "",
      };
      if ((await save(state, null)) === undefined) throw new Error("upload id collision");
      return infoOf(state);
    },

    async get(repository: string, id: string): Promise<UploadInfo | undefined> {
      const loaded = await loadIn(repository, id);
      return loaded && infoOf(loaded.state);
    },

    append,

    async read(repository: string, id: string): Promise<ReadableStream<Uint8Array> | undefined> {
      const loaded = await loadIn(repository, id);
      if (!loaded) return undefined;
      const state = await materialize(loaded);
      const keys: string[] = [];
      if (state.base !== undefined) keys.push(layout.uploadData(id));
      if (state.tail) keys.push(state.tail.key);
      return concatObjects(s3, keys);
    },

    async commit(repository: string, id: string, digest: string): Promise<BlobInfo | undefined> {
      const loaded = await loadIn(repository, id);
      if (!loaded) return undefined;
      const state = await materialize(loaded);
      const size = state.size;
      const blobKey = layout.blob(digest);
      const existing = await s3.headObject(blobKey);
      if (!existing || existing.size !== size) {
        if (state.base !== undefined) await copy(layout.uploadData(id), blobKey, size);
        else if (state.tail) await copy(state.tail.key, blobKey, state.tail.size);
        else await s3.putObject(blobKey, new Uint8Array(0));
      }
      await s3.putObject(layout.link(repository, digest), new Uint8Array(0), {
        metadata: { size: String(size) },
      });
      await s3.deleteObject(layout.uploadState(id));
      await removeObjects(id).catch(() => {});
      return { digest, size };
    },

    async cancel(repository: string, id: string): Promise<boolean> {
      const loaded = await loadIn(repository, id);
      if (!loaded) return false;
      await s3.deleteObject(layout.uploadState(id));
      const multipart = loaded.state.multipart;
      if (multipart) await s3.abortMultipartUpload(layout.uploadData(id), multipart.uploadId);
      await removeObjects(id);
      return true;
    },

    async purge(before: number): Promise<number> {
      let purged = 0;
      for await (const page of s3.listAll({ prefix: layout.uploads, delimiter: "/" })) {
        for (const prefix of page.prefixes) {
          const id = prefix.slice(layout.uploads.length, -1);
          // Ids start with their creation time, so young sessions are skipped without a GET.
          const dash = id.indexOf("-");
          const stamp = dash > 0 ? parseInt(id.slice(0, dash), 36) : Number.NaN;
          if (stamp >= before) continue;
          const loaded = await load(id);
          if (!loaded) {
            await removeObjects(id);
            continue;
          }
          if (loaded.state.createdAt >= before) continue;
          await s3.deleteObject(layout.uploadState(id));
          const multipart = loaded.state.multipart;
          if (multipart) {
            await s3.abortMultipartUpload(layout.uploadData(id), multipart.uploadId);
          }
          await removeObjects(id);
          purged++;
        }
      }
      return purged;
    },
  };
}
