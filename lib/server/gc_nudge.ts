/**
 * A nudge to the garbage collector while large request bodies stream through a server.
 *
 * Every chunk of a request body is a fresh buffer whose memory lives outside the JavaScript heap.
 * V8 collects them only when its heap fills or after about 64 MiB of such memory has piled up, so
 * a large upload holds tens of MiB of dead chunks at any time. A young-generation collection is
 * cheap (the heap is small and the dead chunks are young), so the servers run one after every
 * `everyBytes` bytes of body traffic ({@link defaultGcNudgeBytes}). Downloads that the node:http
 * bridge reads into reused buffers (fsStorage's, node.ts `writePooled`) count a quarter.
 *
 * The defaults per runtime (8 MiB on Node, 2 MiB on Deno with V8's own `gc`, none on Bun) and
 * why Deno's node:vm `gc` is never used come from measurements in bench/results/design_notes.md.
 *
 * The collector is reached without touching the caller's globals: `Bun.gc` on Bun; a global
 * `gc` if the runtime was started with one; on Node a `gc` exposed in a separate `node:vm`
 * context (the flag only affects new contexts; the main context gains no `gc` global). When none
 * is available the nudge does nothing.
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { bunGlobal, detectRuntime } from "../runtime.ts";
import { runInNewContext } from "node:vm";

/**
 * Default body bytes between two nudges on this runtime: 8 MiB on Node (a young-generation
 * collection takes ~0.1-0.4 ms there), 2 MiB on Deno (only when V8's `gc` is exposed, see above;
 * a young collection takes ~0.1 ms), none on Bun (JavaScriptCore frees the chunks well enough on
 * its own).
 */
export function defaultGcNudgeBytes(): number {
  const runtime = detectRuntime();
  if (runtime === "bun") return 0;
  if (runtime === "deno") return 2 * 1024 * 1024;
  return 8 * 1024 * 1024;
}

type Collect = () => void;

let cached: Collect | null | undefined;

function findCollector(): Collect | null {
  const g = globalThis as { gc?: (options?: { type?: string }) => void };
  const bun = bunGlobal<{ gc?: (force: boolean) => void }>();
  if (bun) {
    const bunGc = bun.gc;
    return typeof bunGc === "function" ? () => bunGc(false) : null;
  }
  let gc = g.gc;
  // Deno's `gc` from a new node:vm context is not V8's: it asks for a low-memory collection
  // (several full, compacting collections, 25-250 ms each) whatever the options. Only V8's own
  // (`deno run --v8-flags=--expose-gc`) runs a young-generation collection.
  if (typeof gc !== "function" && detectRuntime() === "deno") return null;
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
