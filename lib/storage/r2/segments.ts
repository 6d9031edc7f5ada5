/**
 * Segments: how the R2 adapter stores the bytes of an upload. Each append writes its bytes as one
 * object of its own, a segment (`data/<session>/<token>`), and a blob is the list of its
 * session's segments. R2's Worker binding has no server-side copy, so this is what lets the blob
 * become visible at commit (one small record written then) without moving its bytes, and lets
 * any isolate continue a session (a segment is complete when its append answers).
 *
 * An append of at most one part is one `put`; a longer one is a multipart upload whose parts are
 * all `partSize` bytes but the last (R2 wants equal parts): at most one part is buffered.
 *
 * @module
 */
import type { R2Bucket, R2MultipartUpload, R2UploadedPart } from "./binding.ts";
import { concatStreams } from "../concat_stream.ts";

/** One stored segment. */
export interface Segment {
  /** Its key. */
  key: string;
  /** Its size in bytes. */
  size: number;
}

/** R2's smallest part (every part but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * A random URL-safe token (Web Crypto).
 *
 * @example
 * ```ts
 * randomToken(12); // 16 characters
 * ```
 */
export function randomToken(bytes = 12): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let text = "";
  for (const byte of raw) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** `chunks` (holding `size` bytes in all) as one array. */
function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === size) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * Store `data` as the object `key`, streaming it into parts of `partSize` bytes. Answers the
 * segment, or `undefined` for no bytes (nothing stored). If `data` throws, nothing is left
 * behind and the error propagates. `onPart` runs after each part is uploaded.
 *
 * @example
 * ```ts
 * const segment = await writeSegment(bucket, "data/s1/t1", body, 10 << 20);
 * ```
 */
export async function writeSegment(
  bucket: R2Bucket,
  key: string,
  data: AsyncIterable<Uint8Array>,
  partSize: number,
  onPart?: () => Promise<void>,
): Promise<Segment | undefined> {
  // Until the first part is full the bytes stay as received (most appends are small); from
  // then on they are copied into one part buffer, reused for every part.
  let chunks: Uint8Array[] = [];
  let part: Uint8Array | undefined;
  let buffered = 0;
  let total = 0;
  let upload: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];
  const flushPart = async (bytes: Uint8Array) => {
    upload ??= await bucket.createMultipartUpload(key);
    parts.push(await upload.uploadPart(parts.length + 1, bytes));
    await onPart?.();
  };
  try {
    for await (const chunk of data) {
      let rest = chunk;
      while (rest.byteLength > 0) {
        const take = Math.min(rest.byteLength, partSize - buffered);
        if (part) part.set(rest.subarray(0, take), buffered);
        else chunks.push(rest.subarray(0, take));
        buffered += take;
        total += take;
        rest = rest.subarray(take);
        if (buffered === partSize) {
          if (!part) {
            part = concat(chunks, buffered);
            if (part === chunks[0]) part = part.slice();
            chunks = [];
          }
          await flushPart(part);
          buffered = 0;
        }
      }
    }
    if (total === 0) return undefined;
    if (!upload) {
      await bucket.put(key, concat(chunks, buffered));
      return { key, size: total };
    }
    if (buffered > 0) await flushPart(part ? part.subarray(0, buffered) : concat(chunks, buffered));
    chunks = [];
    part = undefined;
    await upload.complete(parts);
    return { key, size: total };
  } catch (error) {
    await upload?.abort().catch(() => {});
    throw error;
  }
}

/** Delete `keys`, 1000 at a time. */
export async function deleteKeys(bucket: R2Bucket, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
}

/**
 * The bytes of `segments` from `start` to `end` (inclusive), as one stream that fetches each
 * segment (or its range) when the previous one ends.
 *
 * @example
 * ```ts
 * const stream = readSegments(bucket, record.segments, 0, record.size - 1);
 * ```
 */
export function readSegments(
  bucket: R2Bucket,
  segments: Segment[],
  start: number,
  end: number,
): ReadableStream<Uint8Array> {
  const pieces: { key: string; offset: number; length: number }[] = [];
  let at = 0;
  for (const segment of segments) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + segment.size - 1);
    if (from <= to) pieces.push({ key: segment.key, offset: from - at, length: to - from + 1 });
    at += segment.size;
  }
  return concatStreams(pieces.length, async (i) => {
    const piece = pieces[i];
    const object = await bucket.get(piece.key, {
      range: { offset: piece.offset, length: piece.length },
    });
    if (!object) throw new Error(`segment ${piece.key} is missing`);
    return object.body;
  });
}
