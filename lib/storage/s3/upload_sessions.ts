/**
 * Upload sessions over S3, for stateless replicas: every bit of session state lives in the
 * bucket, so any replica can serve any request of a session.
 *
 * - The state object (`uploads/<id>/state`, JSON; session_records.ts) holds the size, the
 *   multipart UploadId with the parts uploaded so far (number, ETag, size), and the pending
 *   tail: the received bytes that do not fill a part yet, stored as an object of their own. Every
 *   write of it is conditional, and an append, read or commit holds a claim (a lease) on it.
 * - Appends (upload_append.ts) stream the bytes into parts of `partSize` (part_stream.ts; at
 *   most two part buffers per append in memory). Small blobs never start a multipart upload:
 *   their bytes stay in the tail object, which commit copies to the blob key.
 * - Reads and commits (upload_commit.ts) complete the multipart upload into `uploads/<id>/data`
 *   first; commit then copies it to the content-addressed key in one CopyObject.
 * - Cancel and purge abort the multipart upload and remove the session's objects. Expiry is the
 *   registry handler's (its `uploadTtlMs`): it calls `purge(before)`; nothing here has a TTL.
 *
 * Each process remembers the size of the bytes it last appended or handed out by `read` per
 * session (a bounded map): the handler verifies the digest of exactly those bytes, so a commit
 * that finds another size (another replica appended in between) is refused with
 * UploadOffsetError instead of making unverified bytes visible.
 *
 * @module
 */
import type { BlobInfo, CreateUploadOptions, UploadInfo, UploadStore } from "../types.ts";
import type { S3Client } from "../../s3/client.ts";
import type { Layout } from "./layout.ts";
import { appendToSession } from "./upload_append.ts";
import { commitSession, readSession } from "./upload_commit.ts";
import {
  type Loaded,
  sessionRecords,
  type SessionState,
  token,
  uploadInfo,
} from "./session_records.ts";

export { MIN_PART_SIZE } from "./part_stream.ts";

/** Options of {@link s3UploadStore}. */
export interface S3UploadStoreOptions {
  /** Part size in bytes (>= 5 MiB). */
  partSize: number;
  /**
   * How long a claim on a session holds without renewal, in ms (default 60 s). A replica that
   * dies mid-append blocks its session for at most this long. Replicas' clocks must agree to
   * well within it.
   */
  leaseMs?: number;
}

/** Most sessions whose handed-out size a process remembers. */
const REMEMBERED = 4096;

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
): Required<UploadStore> {
  const leaseMs = options.leaseMs ?? 60_000;
  const records = sessionRecords(s3, layout, leaseMs);
  const context = { s3, layout, records, leaseMs, partSize: options.partSize };
  /** Session id → the size this process last appended to or read (what the handler hashed). */
  const handedOut = new Map<string, number>();
  const remember = (id: string, size: number) => {
    handedOut.delete(id);
    handedOut.set(id, size);
    if (handedOut.size > REMEMBERED) handedOut.delete(handedOut.keys().next().value!);
  };

  /** Delete every object of a session. */
  async function removeObjects(id: string): Promise<void> {
    await s3.deleteObjects(await s3.listKeys(layout.upload(id)));
  }

  /** End a session: its state first (so no request finds it), then its upload and objects. */
  async function end(loaded: Loaded): Promise<void> {
    const { id, multipart } = loaded.state;
    handedOut.delete(id);
    await s3.deleteObject(layout.uploadState(id));
    if (multipart) await s3.abortMultipartUpload(layout.uploadData(id), multipart.uploadId);
    await removeObjects(id);
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
      if ((await records.save(state, null)) === undefined) throw new Error("upload id collision");
      return uploadInfo(state);
    },

    async get(repository: string, id: string): Promise<UploadInfo | undefined> {
      const loaded = await records.loadIn(repository, id);
      return loaded && uploadInfo(loaded.state);
    },

    async append(repository, id, offset, data): Promise<UploadInfo | undefined> {
      const info = await appendToSession(context, repository, id, offset, data);
      if (info) remember(id, info.size);
      return info;
    },

    async read(repository: string, id: string): Promise<ReadableStream<Uint8Array> | undefined> {
      const read = await readSession(context, repository, id);
      if (read) remember(id, read.size);
      return read?.stream;
    },

    async commit(
      repository: string,
      id: string,
      digest: string,
      size?: number,
    ): Promise<BlobInfo | undefined> {
      const blob = await commitSession(context, repository, id, digest, size ?? handedOut.get(id));
      handedOut.delete(id);
      if (blob) await removeObjects(id).catch(() => {});
      return blob;
    },

    async cancel(repository: string, id: string): Promise<boolean> {
      const loaded = await records.loadIn(repository, id);
      if (!loaded) return false;
      await end(loaded);
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
          const loaded = await records.load(id);
          if (!loaded) {
            await removeObjects(id);
            continue;
          }
          if (loaded.state.createdAt >= before) continue;
          await end(loaded);
          purged++;
        }
      }
      return purged;
    },
  };
}
