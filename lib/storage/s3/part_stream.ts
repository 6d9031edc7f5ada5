/**
 * Streaming bytes into an S3 multipart upload in parts of a fixed size, and server-side copies
 * of any size.
 *
 * S3 needs a known length per request and no part but the last under 5 MiB, so the bytes are
 * buffered into parts. Memory is bounded: a {@link PartWriter} holds at most two part buffers,
 * one filling while the other uploads (`2 × partSize`, 16 MiB at the default 8 MiB part size),
 * plus the chunk being copied in, which the caller owns. Buffers are reused from part to part.
 *
 * @module
 */
import type { S3Client } from "../../s3/client.ts";
import type { MultipartRecord, StoredPart } from "./session_records.ts";

/** S3's smallest part (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest part, and the largest single CopyObject. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** S3's largest part number. */
export const MAX_PARTS = 10_000;

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

/**
 * Copy the first `size` bytes of `source` (at least 5 MiB) server-side into the multipart upload
 * `uploadId` of `key`, as parts numbered from `first`. Answers the parts.
 *
 * @example
 * ```ts
 * const parts = await copyParts(s3, "data", uploadId, "data", 12 << 20, 1);
 * ```
 */
export async function copyParts(
  s3: S3Client,
  key: string,
  uploadId: string,
  source: string,
  size: number,
  first: number,
): Promise<StoredPart[]> {
  const parts: StoredPart[] = [];
  for (const range of copyRanges(size)) {
    const n = first + parts.length;
    const etag = await s3.uploadPartCopy(key, uploadId, n, source, range);
    parts.push({ n, etag, size: range.end - range.start + 1 });
  }
  return parts;
}

/**
 * Copy `source` (of `size` bytes) to `target` server-side: one CopyObject up to 5 GiB, a
 * multipart copy beyond. The target appears at once, complete.
 *
 * @example
 * ```ts
 * await copyObjectOfSize(s3, "uploads/x/data", "blobs/sha256/abc", size);
 * ```
 */
export async function copyObjectOfSize(
  s3: S3Client,
  source: string,
  target: string,
  size: number,
): Promise<void> {
  if (size <= MAX_PART_SIZE) {
    await s3.copyObject(source, target);
    return;
  }
  const uploadId = await s3.createMultipartUpload(target);
  try {
    const parts = await copyParts(s3, target, uploadId, source, size, 1);
    await s3.completeMultipartUpload(target, uploadId, asPartInfo(parts));
  } catch (error) {
    await s3.abortMultipartUpload(target, uploadId).catch(() => {});
    throw error;
  }
}

/**
 * Recorded parts as CompleteMultipartUpload takes them.
 *
 * @example
 * ```ts
 * await s3.completeMultipartUpload(key, uploadId, asPartInfo(record.parts));
 * ```
 */
export function asPartInfo(parts: StoredPart[]): { partNumber: number; etag: string }[] {
  return parts.map((p) => ({ partNumber: p.n, etag: p.etag }));
}

/** Options of {@link PartWriter}. */
export interface PartWriterOptions {
  /** The object key the multipart upload completes into. */
  key: string;
  /** Part size in bytes (>= 5 MiB). */
  partSize: number;
  /** The multipart upload to continue (its recorded parts are kept; new ones follow). */
  multipart?: MultipartRecord;
  /** Bytes already stored at `key` (when there is no multipart upload): copied in first. */
  base?: number;
  /** Called before each part upload starts (the session's claim is renewed there). */
  beforePart?: () => Promise<void>;
}

/**
 * Writes a stream of chunks as parts of a multipart upload, at most one part uploading while
 * the next fills. The multipart upload is created at the first full part (with `base` copied
 * in); what does not fill a part is answered by {@link PartWriter.finish}.
 *
 * @example
 * ```ts
 * const writer = new PartWriter(s3, { key, partSize: 8 << 20 });
 * for await (const chunk of body) await writer.write(chunk);
 * const tail = await writer.finish(); // < 8 MiB; writer.multipart holds the parts
 * ```
 */
export class PartWriter {
  readonly #s3: S3Client;
  readonly #options: PartWriterOptions;
  #buffer: Uint8Array = new Uint8Array(0);
  #filled = 0;
  #spare: Uint8Array | undefined;
  #inflight: Promise<void> | undefined;
  #nextPart: number;
  /** The multipart upload with every part uploaded so far (after {@link PartWriter.finish}). */
  multipart: MultipartRecord | undefined;
  /** Bytes stored at the key and not yet copied into a multipart upload. */
  base: number | undefined;
  /** The UploadId this writer created, if any (to abort on failure). */
  created: string | undefined;

  /**
   * @param s3 The client.
   * @param options Key, part size, and what to continue.
   */
  constructor(s3: S3Client, options: PartWriterOptions) {
    this.#s3 = s3;
    this.#options = options;
    this.base = options.base;
    this.multipart = options.multipart &&
      { uploadId: options.multipart.uploadId, parts: [...options.multipart.parts] };
    this.#nextPart = (options.multipart?.parts.at(-1)?.n ?? 0) + 1;
  }

  /** Copy `chunk` in; uploads every part it fills. The chunk is not kept. */
  async write(chunk: Uint8Array): Promise<void> {
    const partSize = this.#options.partSize;
    let at = 0;
    while (at < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - at, partSize - this.#filled);
      this.#reserve(this.#filled + take);
      this.#buffer.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled === partSize) await this.#upload();
    }
  }

  /** Wait for the part in flight; answers the bytes that did not fill a part (a view). */
  async finish(): Promise<Uint8Array> {
    await this.#inflight;
    this.#inflight = undefined;
    return this.#buffer.subarray(0, this.#filled);
  }

  /** Wait for the part in flight (ignoring its outcome) and abort an upload this writer made. */
  async abort(): Promise<void> {
    await this.#inflight?.catch(() => {});
    if (this.created) {
      await this.#s3.abortMultipartUpload(this.#options.key, this.created).catch(() => {});
    }
  }

  /** Grow the filling buffer to hold `size` bytes (doubling; a full part at most). */
  #reserve(size: number): void {
    if (size <= this.#buffer.byteLength) return;
    const partSize = this.#options.partSize;
    let next: Uint8Array;
    if (this.#spare) {
      next = this.#spare;
      this.#spare = undefined;
    } else if (this.#inflight) {
      next = new Uint8Array(partSize); // a part went out: more are likely, no growing
    } else {
      next = new Uint8Array(Math.min(partSize, Math.max(size, 2 * this.#buffer.byteLength, 65536)));
    }
    next.set(this.#buffer.subarray(0, this.#filled));
    this.#buffer = next;
  }

  async #upload(): Promise<void> {
    const s3 = this.#s3;
    const { key } = this.#options;
    if (!this.multipart) {
      const uploadId = await s3.createMultipartUpload(key);
      this.created = uploadId;
      const parts = this.base === undefined
        ? []
        : await copyParts(s3, key, uploadId, key, this.base, 1);
      this.multipart = { uploadId, parts };
      this.#nextPart = parts.length + 1;
      this.base = undefined;
    }
    const target = this.multipart;
    const n = this.#nextPart++;
    if (n > MAX_PARTS) throw new Error(`${key}: more than ${MAX_PARTS} parts`);
    await Promise.all([this.#inflight, this.#options.beforePart?.()]);
    const part = this.#buffer;
    this.#buffer = new Uint8Array(0);
    this.#filled = 0;
    const upload = s3.uploadPart(key, target.uploadId, n, part).then((etag) => {
      target.parts.push({ n, etag, size: part.byteLength });
      this.#spare = part;
    });
    upload.catch(() => {});
    this.#inflight = upload;
  }
}
