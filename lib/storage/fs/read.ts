/**
 * Reading files as response bodies for {@link fsStorage}: a pull-driven byte stream with large
 * chunks (backpressure: nothing is read until the consumer asks); on Deno, for reads to the end of
 * a file, the open file's own stream (Deno.serve sends it without passing bytes through
 * JavaScript); on Bun a `Bun.file()` slice.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { promises as fsp } from "node:fs";
import { bunGlobal, denoGlobal } from "../../runtime.ts";
import type { BlobBody } from "../types.ts";

/** Bytes read per pull: large chunks keep downloads fast (bench/results/design_notes.md). */
const READ_CHUNK = 512 * 1024;

/**
 * A fresh buffer of `size` bytes whose contents are garbage (every byte is overwritten before
 * use): zero-filling large chunks costs Node a measurable part of its pull throughput. Small
 * ones come zeroed (Node would carve them out of a shared pool).
 */
function uninitialized(size: number): Uint8Array<ArrayBuffer> {
  if (size < 64 * 1024) return new Uint8Array(size);
  const b = Buffer.allocUnsafe(size);
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, size);
}

/** A byte span of one file, `end` inclusive. */
export interface FileSpan {
  /** The file. */
  path: string;
  /** First byte. */
  start: number;
  /** Last byte, inclusive (`start - 1` for nothing). */
  end: number;
}

/**
 * A stream of the spans, one after the other. Each file is opened when the consumer first pulls
 * from it and closed at its end, on error, or when the consumer cancels.
 *
 * It is a byte stream: a reader in BYOB mode (`getReader({ mode: "byob" })`, as the node:http
 * bridge uses) has the file read straight into its own buffer, which it may reuse, so a download
 * allocates nothing per chunk; a default reader gets a fresh chunk of up to 512 KiB per read.
 */
export function fileStream(spans: readonly FileSpan[]): ReadableStream<Uint8Array> {
  let index = 0;
  let position = spans[0]?.start ?? 0;
  let handle: fsp.FileHandle | undefined;
  async function closeHandle(): Promise<void> {
    const h = handle;
    handle = undefined;
    await h?.close().catch(() => {});
  }
  /** Reads into `target` (at most what is left of the current span); answers the bytes read. */
  async function readInto(target: Uint8Array): Promise<number> {
    const span = spans[index];
    handle ??= await fsp.open(span.path, "r");
    const want = Math.min(target.byteLength, span.end - position + 1);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(target, got, want - got, position + got);
      if (bytesRead === 0) throw new Error(`fsStorage: ${span.path} is shorter than expected`);
      got += bytesRead;
    }
    position += got;
    return got;
  }
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      const request = controller.byobRequest;
      try {
        while (index < spans.length && position > spans[index].end) {
          await closeHandle();
          index++;
          position = spans[index]?.start ?? 0;
        }
        if (index >= spans.length) {
          controller.close();
          request?.respond(0);
          return;
        }
        const view = request?.view;
        if (view && view.byteLength > 0) {
          const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
          request!.respond(await readInto(target));
        } else {
          const chunk = uninitialized(Math.min(READ_CHUNK, spans[index].end - position + 1));
          await readInto(chunk);
          controller.enqueue(chunk);
        }
      } catch (error) {
        await closeHandle();
        controller.error(error);
      }
    },
    async cancel() {
      await closeHandle();
    },
  }) as ReadableStream<Uint8Array>;
}

/** Bun's file API, when running on Bun. */
interface BunFiles {
  file(path: string): Blob;
}

/** The part of Deno's file API used here. */
interface DenoFiles {
  openSync(path: string): {
    readonly readable: ReadableStream<Uint8Array>;
    seekSync(offset: number, whence: 0): number;
    close(): void;
  };
}

/** On Deno, the rest of the file from `start` as a stream backed by the open file itself. */
function denoFileStream(deno: DenoFiles, path: string, start: number): ReadableStream<Uint8Array> {
  const file = deno.openSync(path);
  try {
    if (start > 0) file.seekSync(start, 0);
  } catch (error) {
    file.close();
    throw error;
  }
  return file.readable;
}

/**
 * The body of a stored file, whole or the inclusive `range`. This runtime check is the adapter's
 * only one; the handler never looks at the runtime.
 *
 * - Bun: `Bun.file(path)` (or a slice of it): Bun sends it with sendfile and keeps the
 *   Content-Length it would drop from a stream (oven-sh/bun#10507).
 * - Deno, when the read runs to the end of the file: `Deno.FsFile.readable` of the file, opened
 *   now. Deno.serve recognises a stream backed by a file and copies file to socket in Rust: no
 *   JavaScript buffer per chunk, so neither garbage nor GC work. It is also a byte stream, so the
 *   node:http bridge reads it into
 *   reused buffers.
 * - Elsewhere a {@link fileStream}.
 */
export function fileBody(
  path: string,
  size: number,
  range?: { start: number; end: number },
): BlobBody {
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const bun = bunGlobal<BunFiles>();
  if (bun) {
    const file = bun.file(path);
    return range ? file.slice(start, end + 1) : file;
  }
  const deno = denoGlobal<DenoFiles>();
  if (deno && end === size - 1 && size > 0) {
    try {
      return denoFileStream(deno, path, start);
    } catch {
      // Gone or unreadable: the generic stream reports it when read.
    }
  }
  return fileStream([{ path, start, end }]);
}
