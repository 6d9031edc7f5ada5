/**
 * A nudge to the garbage collector while large bodies stream through a server.
 *
 * Every chunk of a request or response body is a fresh buffer whose memory lives outside the
 * JavaScript heap. V8 collects them only when its heap fills or after about 64 MiB of such memory
 * has piled up, so a large transfer holds tens of MiB of dead chunks at any time. A
 * young-generation collection is cheap (the heap is small and the dead chunks are young), so the
 * servers run one after every `everyBytes` bytes of body traffic ({@link defaultGcNudgeBytes}).
 *
 * Measured (bench/memory.ts, 1 GiB push / pull / slow pull through the CLI with fs storage,
 * server peak RSS, on a shared 2-core machine):
 * - Node (bundled CLI): 95-102 MiB without the nudge, 80-85 every 16 MiB, 74-76 every 8 MiB,
 *   68-72 every 4 MiB; throughput unchanged within the noise (a minor GC is ~0.4 ms).
 * - Deno (node:http bridge): 133-136 MiB without (push 242, pull 374 MiB/s), 88 every 16 MiB
 *   (225, 323 MiB/s), 77-78 every 8 MiB (100, 133 MiB/s): Deno's `gc` is always a full
 *   collection (~17 ms; `{ type: "minor" }` is not honoured), so it is spaced out more.
 * - Bun: 86 MiB without, 81 with: not worth the extra stream wrapping, so off.
 *
 * The collector is reached without touching the caller's globals: `Bun.gc` on Bun; on V8
 * runtimes (Node, Deno) a `gc` exposed in a separate `node:vm` context (the flag only affects new
 * contexts; the main context gains no `gc` global). When none is available the nudge does nothing.
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Default body bytes between two nudges on this runtime: 8 MiB on Node (a young-generation
 * collection takes ~0.4 ms there), 16 MiB on Deno (whose exposed `gc` always runs a full
 * collection, ~17 ms), none on Bun (JavaScriptCore frees the chunks well enough on its own).
 */
export function defaultGcNudgeBytes(): number {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Bun !== undefined) return 0;
  if (g.Deno !== undefined) return 16 * 1024 * 1024;
  return 8 * 1024 * 1024;
}

type Collect = () => void;

let cached: Collect | null | undefined;

function findCollector(): Collect | null {
  const g = globalThis as {
    Bun?: { gc?: (force: boolean) => void };
    gc?: (options?: { type?: string }) => void;
  };
  if (g.Bun) {
    const bunGc = g.Bun.gc;
    return typeof bunGc === "function" ? () => bunGc(false) : null;
  }
  let gc = g.gc;
  if (typeof gc !== "function") {
    try {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as typeof gc;
    } catch {
      gc = undefined;
    }
  }
  if (typeof gc !== "function") return null;
  const collect = gc;
  return () => collect({ type: "minor" });
}

/**
 * A counter that runs a cheap garbage collection after every `everyBytes` bytes added.
 * Answers `undefined` when `everyBytes` is 0 or the runtime offers no collector.
 *
 * @example
 * ```ts
 * const nudge = createGcNudge(16 * 1024 * 1024);
 * for await (const chunk of body) nudge?.(chunk.byteLength);
 * ```
 */
export function createGcNudge(everyBytes: number): ((bytes: number) => void) | undefined {
  if (!(everyBytes > 0)) return undefined;
  if (cached === undefined) cached = findCollector();
  const collect = cached;
  if (!collect) return undefined;
  let pending = 0;
  return (bytes: number) => {
    pending += bytes;
    if (pending >= everyBytes) {
      pending = 0;
      collect();
    }
  };
}
