/**
 * The response side of the node:http bridge (lib/server/node.ts): a fetch `Response` written to a
 * `ServerResponse`, large byte-stream bodies through pooled buffers.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** One request/response through the bridge: counters for the log, hooks for the body paths. */
export interface Exchange {
  /** Called with the size of every body chunk (the GC nudge). */
  onBytes?: (n: number) => void;
  bytesIn: number;
  bytesOut: number;
  status: number;
  /** Cancels the response body reader when the client goes away. */
  abort?: () => void;
}

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Response bodies of at least this many bytes (or of unknown length) that are byte streams are
 * read into pooled buffers ({@link writePooled}); smaller ones are written as their own chunks.
 */
const POOLED_BODY_MIN_BYTES = 256 * 1024;

/** Size of a pooled response buffer. */
const POOL_BUFFER_BYTES = 1024 * 1024;

/**
 * Pooled bytes count this much toward the GC nudge: the buffers are reused, but the runtime's
 * socket writes still leave some garbage (Deno: a 1 GiB pull after a 1 GiB push raised peak RSS
 * from ~78 to 89-96 MiB without nudges, 79-81 with one every 8 MiB of download).
 */
const POOLED_NUDGE_WEIGHT = 1 / 4;

/** Pooled response buffers kept for reuse while idle (4 MiB). */
const POOL_MAX_IDLE = 4;

/**
 * Send a byte-stream body by reading it into buffers taken from `pool` and handing each back once
 * the socket has taken its bytes (the write callback), so a large download allocates nothing per
 * chunk: no garbage piles up between collections, and nothing is zero-filled. The next chunk is
 * read while the socket drains the current one. fsStorage's bodies
 * are byte streams (lib/storage/fs/read.ts).
 */
async function writePooled(
  res: ServerResponse,
  reader: ReadableStreamBYOBReader,
  exchange: Exchange,
  pool: ArrayBuffer[],
): Promise<void> {
  const recycle = (buffer: ArrayBuffer) => {
    if (pool.length < POOL_MAX_IDLE && buffer.byteLength === POOL_BUFFER_BYTES) pool.push(buffer);
  };
  const next = () => {
    const read = reader.read(new Uint8Array(pool.pop() ?? new ArrayBuffer(POOL_BUFFER_BYTES)));
    read.catch(() => {}); // awaited below; may fail while the loop waits for `drain`
    return read;
  };
  exchange.abort = () => reader.cancel().catch(() => {});
  try {
    let pending = next();
    for (;;) {
      const { done, value } = await pending;
      if (done) {
        if (value) recycle(value.buffer as ArrayBuffer);
        break;
      }
      if (res.destroyed) {
        await reader.cancel().catch(() => {});
        return;
      }
      exchange.bytesOut += value.byteLength;
      exchange.onBytes?.(value.byteLength * POOLED_NUDGE_WEIGHT);
      const filled = value.buffer as ArrayBuffer;
      // Only once written (no error): before that the socket may still hold the bytes.
      const written = res.write(value, (error) => error || recycle(filled));
      // Read the next chunk while the socket takes this one.
      pending = next();
      if (!written) await waitForDrain(res);
    }
  } catch {
    res.destroy();
    return;
  } finally {
    exchange.abort = undefined;
  }
  if (!res.destroyed) res.end();
}

/**
 * Write `response` to `res`: status and headers (`connection: close` when the server is
 * closing), then the body, pooled ({@link writePooled}) or chunk by chunk, waiting for `drain`.
 */
export async function writeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  response: Response,
  exchange: Exchange,
  closing: boolean,
  pool: ArrayBuffer[],
): Promise<void> {
  const headers: string[] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push(name, value);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push("set-cookie", cookie);
  if (closing) headers.push("connection", "close");
  exchange.status = response.status;
  const body = response.body;
  if (res.destroyed) {
    await body?.cancel().catch(() => {});
    return;
  }
  res.writeHead(response.status, headers);
  if (!body || req.method === "HEAD" || response.status === 204 || response.status === 304) {
    res.end();
    await body?.cancel().catch(() => {});
    return;
  }
  const length = Number(response.headers.get("content-length") ?? Infinity);
  if (length >= POOLED_BODY_MIN_BYTES) {
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = body.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: read it chunk by chunk below.
    }
    if (byob) return writePooled(res, byob, exchange, pool);
  }
  const reader = body.getReader();
  exchange.abort = () => reader.cancel().catch(() => {});
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) {
        await reader.cancel().catch(() => {});
        return;
      }
      exchange.bytesOut += value.byteLength;
      exchange.onBytes?.(value.byteLength);
      if (!res.write(value)) await waitForDrain(res);
    }
  } catch {
    // The body failed half-way: the response cannot be completed, so cut the connection (the
    // client sees a truncated body, never a short one that looks whole).
    res.destroy();
    return;
  } finally {
    exchange.abort = undefined;
  }
  if (!res.destroyed) res.end();
}
