/**
 * Synchronous reads of the small metadata files of {@link fsStorage} (tag files of ~72 bytes,
 * manifests of a few KiB, at most the registry's manifest size limit).
 *
 * Why synchronous: an asynchronous read of a small file is several thread-pool round trips,
 * an order of magnitude slower than `fs.readFileSync` on Node and Deno (numbers in
 * bench/results/design_notes.md); a manifest GET by tag reads two such files.
 *
 * The trade-off: the event loop waits for the disk while the read runs. On a local filesystem
 * with the file in the page cache that is microseconds; a cold read from a spinning disk, or a
 * network filesystem whose server is slow, blocks every request of the process for that long.
 * Only metadata goes through here; blob content is always read asynchronously (read.ts).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { isMissing } from "./io.ts";

/**
 * The bytes of a small file, or undefined when it (or one of its directories) does not exist.
 * Reads the file as it is at the time of the call: nothing is cached.
 *
 * @example
 * ```ts
 * const bytes = readSmallFile("/data/repositories/a/_tags/latest"); // Uint8Array | undefined
 * ```
 */
export function readSmallFile(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
