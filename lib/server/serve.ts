/**
 * `serve`: a fetch handler on the current runtime's own server.
 *
 * @module
 */
import { serveBun } from "./bun.ts";
import { serveDeno } from "./deno.ts";
import { serveNode } from "./node.ts";
import type { FetchHandler, RunningServer, ServeOptions } from "./types.ts";

/** The JavaScript runtime running this code. */
export type Runtime = "node" | "deno" | "bun";

/** Which runtime this is: Deno, Bun, or else Node. */
export function detectRuntime(): Runtime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/**
 * Serve `handler` with the current runtime's own server: `Deno.serve` on Deno, `Bun.serve` on
 * Bun, the node:http bridge elsewhere.
 *
 * @example
 * ```ts
 * const server = await serve((req) => new Response("hi"), { port: 0 });
 * await server.close();
 * ```
 */
export function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<RunningServer> {
  switch (detectRuntime()) {
    case "deno":
      return serveDeno(handler, options);
    case "bun":
      return serveBun(handler, options);
    default:
      return serveNode(handler, options);
  }
}
