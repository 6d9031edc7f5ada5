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
 * Which server to use: `auto` (the measured best: Bun.serve on Bun, the node:http bridge on Node
 * and on Deno), `native` (Deno.serve on Deno, Bun.serve on Bun) or `node` (the node:http bridge).
 */
export type ServerKind = "auto" | "native" | "node";

/** Options of {@link serve}. */
export interface AnyServeOptions extends ServeOptions {
  /**
   * Default `auto`. On Deno 2.9, `auto` picks the node:http bridge over `Deno.serve`, measured with
   * the registry and fs storage (bench/memory.ts, 512 MiB-1 GiB): Deno.serve reads a chunked
   * (streamed, no Content-Length) request body at 6-36 MiB/s as soon as the handler does real
   * async I/O per chunk (file writes), against 93-127 MiB/s for Deno's node:http; pulls 134 vs
   * 141-201 MiB/s; peak RSS 108-140 vs 72-86 MiB. Deno.serve answers ~1.5× the small requests per
   * second (~18k vs ~12k, trivial handler), which matters less to a registry than pushes.
   */
  server?: ServerKind;
}

/**
 * Serve `handler` on the current runtime: see {@link AnyServeOptions.server} for which server.
 *
 * @example
 * ```ts
 * const server = await serve((req) => new Response("hi"), { port: 0 });
 * await server.close();
 * ```
 */
export function serve(
  handler: FetchHandler,
  options: AnyServeOptions = {},
): Promise<RunningServer> {
  const kind = options.server ?? "auto";
  if (kind === "node") return serveNode(handler, options);
  switch (detectRuntime()) {
    case "deno":
      return kind === "native" ? serveDeno(handler, options) : serveNode(handler, options);
    case "bun":
      return serveBun(handler, options);
    default:
      return serveNode(handler, options);
  }
}
