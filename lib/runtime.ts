/**
 * The one place that asks which JavaScript runtime runs this code (Node, Deno or Bun) and hands
 * out the runtime's own global (`Deno`, `Bun`). Adapters and servers that use a runtime's own API
 * go through here; the handler core (lib/registry.ts and the modules it imports) never does,
 * except through the memory adapter it defaults to.
 *
 * @module
 */

/** The JavaScript runtime running this code. */
export type Runtime = "node" | "deno" | "bun";

const g = globalThis as { Deno?: unknown; Bun?: unknown };

/**
 * Which runtime this is: Deno, Bun, or else Node.
 *
 * @example
 * ```ts
 * if (detectRuntime() === "bun") console.log("on Bun");
 * ```
 */
export function detectRuntime(): Runtime {
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/**
 * The `Bun` global when running on Bun, typed as the caller declares the part it uses; else
 * `undefined`.
 *
 * @example
 * ```ts
 * const bun = bunGlobal<{ file(path: string): Blob }>();
 * const body = bun ? bun.file("/tmp/x") : undefined;
 * ```
 */
export function bunGlobal<T>(): T | undefined {
  return typeof g.Bun === "object" && g.Bun !== null ? g.Bun as T : undefined;
}

/**
 * The `Deno` global when running on Deno, typed as the caller declares the part it uses; else
 * `undefined`.
 *
 * @example
 * ```ts
 * const deno = denoGlobal<{ pid: number }>();
 * console.log(deno?.pid);
 * ```
 */
export function denoGlobal<T>(): T | undefined {
  return typeof g.Deno === "object" && g.Deno !== null ? g.Deno as T : undefined;
}
