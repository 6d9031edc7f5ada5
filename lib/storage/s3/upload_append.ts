/**
 * Appending to an S3 upload session (see upload_sessions.ts for the whole design).
 *
 * An append first claims the session with a conditional write of its state (a lease), so a
 * second append at the same offset, on any replica, fails at once with
 * {@link UploadOffsetError}. It re-buffers the pending tail and the new bytes into parts
 * (part_stream.ts), uploads each full part, stores what does not fill a part as a new tail
 * object, and releases the claim with the new size in one conditional write. The claim is
 * renewed while bytes flow, and always before a part upload starts when a third of the lease
 * has passed, so a part is never written into the multipart upload after another request could
 * have taken the session over. A failed append leaves the recorded state as it was: parts it
 * uploaded past the recorded ones are overwritten by the next append and never listed at
 * completion.
 *
 * @module
 */
import { type UploadInfo, UploadOffsetError } from "../types.ts";
import type { S3Client } from "../../s3/client.ts";
import type { Layout } from "./layout.ts";
import { PartWriter } from "./part_stream.ts";
import { released, type SessionRecords, type SessionState, uploadInfo } from "./session_records.ts";

/** What an append needs. */
export interface AppendContext {
  /** The client. */
  s3: S3Client;
  /** Key layout. */
  layout: Layout;
  /** Session records. */
  records: SessionRecords;
  /** Part size in bytes. */
  partSize: number;
  /** How long a claim holds without renewal, in ms. */
  leaseMs: number;
}

/** An error thrown by the data being appended (the client's body), kept apart from S3 errors. */
class DataFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * Append `data` at `offset` to session `id` of `repository` (the contract's
 * `UploadStore.append`).
 *
 * @example
 * ```ts
 * const info = await appendToSession(context, "lib/app", id, 0, body);
 * ```
 */
export async function appendToSession(
  context: AppendContext,
  repository: string,
  id: string,
  offset: number,
  data: AsyncIterable<Uint8Array>,
): Promise<UploadInfo | undefined> {
  const { s3, layout, records, leaseMs } = context;
  const loaded = await records.loadIn(repository, id);
  if (!loaded) return undefined;
  const { state } = loaded;
  if (offset !== state.size || records.leased(state)) throw new UploadOffsetError(state.size);

  // Claim the session: one conditional write decides between concurrent requests.
  const claimed = await records.claim(loaded, "append");
  if (!claimed) {
    const now = await records.loadIn(repository, id);
    if (!now) return undefined;
    throw new UploadOffsetError(now.state.size);
  }
  let claimEtag = claimed.etag;
  const writer = claimed.state.writer!;
  const renewIfDue = async () => {
    if (Date.now() - writer.renewedAt <= leaseMs / 3) return;
    writer.renewedAt = Date.now();
    const etag = await records.save(claimed.state, claimEtag);
    if (etag === undefined) throw new Error("the session's claim was lost");
    claimEtag = etag;
  };

  const parts = new PartWriter(s3, {
    key: layout.uploadData(id),
    partSize: context.partSize,
    multipart: state.multipart,
    base: state.base,
    beforePart: renewIfDue,
  });
  let received = 0;
  let tailLoaded = false;
  let newTail: { key: string; size: number } | undefined;
  let next: SessionState | undefined;
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
          await parts.write(object.bytes);
        }
      }
      received += chunk.byteLength;
      await parts.write(chunk);
      await renewIfDue();
    }
    const rest = await parts.finish();
    let tail = state.tail;
    if (received > 0) {
      tail = undefined;
      if (rest.byteLength > 0) {
        newTail = { key: layout.uploadTail(id, writer.token), size: rest.byteLength };
        await s3.putObject(newTail.key, rest);
        tail = newTail;
      }
    }
    next = released({
      ...state,
      size: state.size + received,
      multipart: parts.multipart,
      base: parts.base,
      tail,
    });
    if ((await records.save(next, claimEtag)) === undefined) {
      throw new Error("the session's claim was lost");
    }
    if (state.tail && state.tail.key !== tail?.key) {
      await s3.deleteObject(state.tail.key).catch(() => {});
    }
    return uploadInfo(next);
  } catch (error) {
    // A final write that failed on the wire may have landed: its nonce tells.
    const landed = next && await records.load(id).catch(() => undefined);
    if (next && landed?.state.nonce === next.nonce) return uploadInfo(next);
    await parts.abort();
    if (newTail) await s3.deleteObject(newTail.key).catch(() => {});
    if (error instanceof DataFailure) {
      // Release the claim, leaving the state as it was.
      await records.save(released(state), claimEtag).catch(() => {});
      throw error.error;
    }
    const now = await records.loadIn(repository, id).catch(() => undefined);
    if (!now) return undefined;
    if (now.state.writer?.token === writer.token) {
      await records.save(released(now.state), now.etag).catch(() => {});
      throw error;
    }
    throw new UploadOffsetError(now.state.size);
  }
}
