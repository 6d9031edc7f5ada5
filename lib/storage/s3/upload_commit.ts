/**
 * Reading and committing an S3 upload session (see upload_sessions.ts for the whole design).
 *
 * S3 cannot read the parts of a multipart upload in progress, so reading the received bytes (to
 * re-hash them on a replica without the hash state) first completes the multipart upload, tail
 * included, into `uploads/<id>/data`; a later append starts a new multipart upload whose first
 * parts are server-side copies of that object. Completing holds a claim on the session (like an
 * append), so no append can use the multipart upload meanwhile, and fails with
 * {@link UploadOffsetError} while another request holds it.
 *
 * Commit (the handler has verified the digest) completes likewise and keeps the claim, refuses
 * a session whose size is not the size the handler verified, then copies the data (or the tail)
 * to the content-addressed key in one CopyObject, so the blob key appears atomically and only
 * after verification; then it links the blob into the repository and deletes the session.
 *
 * @module
 */
import { type BlobInfo, UploadOffsetError } from "../types.ts";
import { concatStreams } from "../concat_stream.ts";
import type { S3Client } from "../../s3/client.ts";
import { S3Error } from "../../s3/errors.ts";
import type { Layout } from "./layout.ts";
import { asPartInfo, copyObjectOfSize, copyParts } from "./part_stream.ts";
import { type Loaded, released, type SessionRecords } from "./session_records.ts";

/** What reading and committing need. */
export interface CompleteContext {
  /** The client. */
  s3: S3Client;
  /** Key layout. */
  layout: Layout;
  /** Session records. */
  records: SessionRecords;
  /** How long a claim holds without renewal, in ms. */
  leaseMs: number;
}

/** A stream of the objects `keys`, one after another, each fetched when the previous ends. */
function concatObjects(s3: S3Client, keys: string[]): ReadableStream<Uint8Array> {
  return concatStreams(keys.length, async (i) => {
    const object = await s3.getObject(keys[i]);
    if (!object) throw new Error(`upload object ${keys[i]} is missing`);
    return object.body;
  });
}

/**
 * Claim the session (`kind`) and make every received byte readable as one object,
 * `uploads/<id>/data` (or the tail object alone, for a session that never filled a part).
 * A read releases the claim at once; a commit keeps it. Answers the new record, or `raced` when
 * another write came first (load again); throws UploadOffsetError when a request holds it.
 */
async function settle(
  context: CompleteContext,
  loaded: Loaded,
  kind: "read" | "commit",
): Promise<Loaded | "raced"> {
  const { s3, layout, records } = context;
  const { state } = loaded;
  if (records.leased(state)) throw new UploadOffsetError(state.size);
  const tail = state.tail;
  const work = state.multipart !== undefined || (state.base !== undefined && tail !== undefined);
  if (!work && kind === "read") return loaded;
  const claimed = await records.claim(loaded, kind);
  if (!claimed) return "raced";
  if (!work) return claimed;
  const dataKey = layout.uploadData(state.id);
  let created: string | undefined;
  try {
    let uploadId = state.multipart?.uploadId;
    const parts = asPartInfo(state.multipart?.parts ?? []);
    if (!uploadId) {
      uploadId = created = await s3.createMultipartUpload(dataKey);
      parts.push(...asPartInfo(await copyParts(s3, dataKey, uploadId, dataKey, state.base!, 1)));
    }
    if (tail) {
      const object = await s3.getBytes(tail.key);
      if (!object) throw new Error(`upload tail ${tail.key} is missing`);
      const n = parts.length + 1;
      parts.push({ partNumber: n, etag: await s3.uploadPart(dataKey, uploadId, n, object.bytes) });
    }
    await s3.completeMultipartUpload(dataKey, uploadId, parts);
  } catch (error) {
    // A completion whose answer was lost (a retry then finds no upload) left the whole object.
    const completedBefore = !created && error instanceof S3Error &&
      error.code === "NoSuchUpload" &&
      (await s3.headObject(dataKey).catch(() => undefined))?.size === state.size;
    if (!completedBefore) {
      if (created) await s3.abortMultipartUpload(dataKey, created).catch(() => {});
      await records.save(released(claimed.state), claimed.etag).catch(() => {});
      throw error;
    }
  }
  const completed = { ...claimed.state, multipart: undefined, base: state.size, tail: undefined };
  const next = kind === "read" ? released(completed) : completed;
  const etag = await records.save(next, claimed.etag);
  if (etag === undefined) {
    throw new Error(`upload ${state.id}: claim lost while its bytes were being completed`);
  }
  if (tail) await s3.deleteObject(tail.key).catch(() => {});
  return { state: next, etag };
}

/**
 * The bytes received so far, as one stream (the contract's `UploadStore.read`). Also answers
 * their count, which the commit checks.
 *
 * @example
 * ```ts
 * const read = await readSession(context, "lib/app", id);
 * ```
 */
export async function readSession(
  context: CompleteContext,
  repository: string,
  id: string,
): Promise<{ stream: ReadableStream<Uint8Array>; size: number } | undefined> {
  for (;;) {
    const loaded = await context.records.loadIn(repository, id);
    if (!loaded) return undefined;
    const settled = await settle(context, loaded, "read");
    if (settled === "raced") continue;
    const { state } = settled;
    const keys: string[] = [];
    if (state.base !== undefined) keys.push(context.layout.uploadData(state.id));
    if (state.tail) keys.push(state.tail.key);
    return { stream: concatObjects(context.s3, keys), size: state.size };
  }
}

/**
 * Make the session's bytes visible as blob `digest` and link it into `repository` (the
 * contract's `UploadStore.commit`). With `verifiedSize`, a session holding any other number of
 * bytes (another replica appended after the handler hashed) is refused with UploadOffsetError.
 * A commit of the same session running elsewhere is waited for, and its outcome answered.
 *
 * @example
 * ```ts
 * const blob = await commitSession(context, "lib/app", id, digest, size);
 * ```
 */
export async function commitSession(
  context: CompleteContext,
  repository: string,
  id: string,
  digest: string,
  verifiedSize?: number,
): Promise<BlobInfo | undefined> {
  const { s3, layout, records } = context;
  const deadline = Date.now() + context.leaseMs;
  let sawCommit = false;
  let settled: Loaded | "raced" = "raced";
  while (settled === "raced") {
    const loaded = await records.loadIn(repository, id);
    if (!loaded) {
      if (!sawCommit) return undefined;
      // Committed elsewhere meanwhile: its outcome is ours.
      const link = await s3.headObject(layout.link(repository, digest));
      return link && { digest, size: Number(link.metadata.size ?? 0) };
    }
    if (loaded.state.writer?.kind === "commit" && records.leased(loaded.state)) {
      sawCommit = true;
      if (Date.now() > deadline) throw new Error(`upload ${id} is being committed elsewhere`);
      await new Promise((done) => setTimeout(done, 50));
      continue;
    }
    if (verifiedSize !== undefined && loaded.state.size !== verifiedSize) {
      throw new UploadOffsetError(loaded.state.size);
    }
    settled = await settle(context, loaded, "commit");
  }
  const { state } = settled;
  const size = state.size;
  const blobKey = layout.blob(digest);
  try {
    const existing = await s3.headObject(blobKey);
    if (!existing || existing.size !== size) {
      if (state.base !== undefined) {
        await copyObjectOfSize(s3, layout.uploadData(id), blobKey, size);
      } else if (state.tail) await copyObjectOfSize(s3, state.tail.key, blobKey, state.tail.size);
      else await s3.putObject(blobKey, new Uint8Array(0));
    }
    await s3.putObject(layout.link(repository, digest), new Uint8Array(0), {
      metadata: { size: String(size) },
    });
  } catch (error) {
    await records.save(released(state), settled.etag).catch(() => {});
    throw error;
  }
  await s3.deleteObject(layout.uploadState(id));
  return { digest, size };
}
