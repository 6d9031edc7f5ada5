/**
 * Byte ranges: the `Range` header of blob GETs (RFC 9110, single range) and the `Content-Range`
 * header of upload PATCHes (`<start>-<end>`, inclusive, optionally with a `bytes ` prefix).
 *
 * @module
 */
import type { ByteRange } from "./storage/types.ts";

/**
 * Resolve a `Range` header against a blob of `size` bytes.
 *
 * Answers the inclusive range to send (clamped to the end of the blob), `"unsatisfiable"` for a
 * 416, or `undefined` when the header should be ignored and the whole body sent (not a byte
 * range, or several ranges).
 *
 * @example
 * ```ts
 * parseRange("bytes=500-1499", 2048); // { start: 500, end: 1499 }
 * parseRange("bytes=-500", 2048);     // { start: 1548, end: 2047 }
 * parseRange("bytes=5000-", 2048);    // "unsatisfiable"
 * ```
 */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, first, last] = m;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return "unsatisfiable";
  if (start > end || start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Parse an upload `Content-Range` header: `<start>-<end>` inclusive (the spec's form), also
 * accepting `bytes <start>-<end>[/<total>]`. Answers `undefined` when malformed.
 *
 * @example
 * ```ts
 * parseContentRange("0-1023");            // { start: 0, end: 1023 }
 * parseContentRange("bytes 0-1023/2048"); // { start: 0, end: 1023 }
 * ```
 */
export function parseContentRange(header: string): ByteRange | undefined {
  const m = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}
