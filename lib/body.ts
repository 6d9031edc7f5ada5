/**
 * Request bodies: metered streaming for blob uploads (hashing and counting every byte as it
 * passes, never holding the body), and bounded reading for manifests.
 *
 * @module
 */
import { RegistryError } from "./errors.ts";
import type { Hasher } from "./hashing.ts";

/**
 * The chunks of a request body. A failure of the body itself (the client went away, a malformed
 * chunked encoding) is the client's fault: it becomes a 400 with `code`, not a 500.
 */
async function* bodyChunks(
  body: ReadableStream<Uint8Array>,
  code: "BLOB_UPLOAD_INVALID" | "MANIFEST_INVALID",
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        throw new RegistryError(code, { reason: String(error) }, {
          message: "the request body could not be read to its end",
        });
      }
      if (result.done) return;
      yield result.value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Options of {@link meter}. */
export interface MeterOptions {
  /** Hash every byte that passes. */
  hasher?: Hasher;
  /** The exact number of bytes the body must have (from Content-Length or Content-Range). */
  length?: number;
}

/** A metered body: iterate it once; `bytes` counts what has passed. */
export interface MeteredBody extends AsyncIterable<Uint8Array> {
  /** Bytes passed so far. */
  readonly bytes: number;
}

/**
 * Wrap a request body so that each chunk is hashed and counted on its way to storage. Throws
 * SIZE_INVALID (while iterating, so storage discards the append) when the body is longer or
 * shorter than `length`.
 */
export function meter(
  body: ReadableStream<Uint8Array> | null,
  options: MeterOptions = {},
): MeteredBody {
  const { hasher, length } = options;
  let bytes = 0;
  const mismatch = () =>
    new RegistryError("SIZE_INVALID", { expected: length, received: bytes }, {
      message: "body length does not match the declared length",
    });
  async function* iterate(): AsyncGenerator<Uint8Array> {
    if (body) {
      for await (const chunk of bodyChunks(body, "BLOB_UPLOAD_INVALID")) {
        if (chunk.byteLength === 0) continue;
        bytes += chunk.byteLength;
        if (length !== undefined && bytes > length) throw mismatch();
        hasher?.update(chunk);
        yield chunk;
      }
    }
    if (length !== undefined && bytes !== length) throw mismatch();
  }
  const iterable = iterate();
  return {
    [Symbol.asyncIterator]: () => iterable,
    get bytes() {
      return bytes;
    },
  };
}

/**
 * Read a whole (bounded) body into memory: manifests. Throws SIZE_INVALID with status 413 when it
 * is longer than `max`, before reading further.
 */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  max: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (body) {
    for await (const chunk of bodyChunks(body, "MANIFEST_INVALID")) {
      size += chunk.byteLength;
      if (size > max) {
        throw new RegistryError("SIZE_INVALID", { limit: max }, {
          status: 413,
          message: "manifest exceeds the size limit",
        });
      }
      chunks.push(chunk);
    }
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The request's declared Content-Length, if present and valid. */
export function contentLength(request: Request): number | undefined {
  const value = request.headers.get("Content-Length");
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}
