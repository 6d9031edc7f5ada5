/**
 * `serve`: a fetch handler on the current runtime's own server.
 *
 * @module
 */
import { serveBun } from "./bun.ts";
import { serveDeno } from "./deno.ts";
import { serveNode } from "./node.ts";
import { detectRuntime } from "../runtime.ts";
import type { FetchHandler, RunningServer, ServeOptions } from "./types.ts";

export { detectRuntime, type Runtime } from "../runtime.ts";

/**
 * Which server to use: `auto` (the measured best: Bun.serve on Bun, the node:http bridge on Node
 * and on Deno), `native` (Deno.serve on Deno, Bun.serve on Bun) or `node` (the node:http bridge).
 */
export type ServerKind = "auto" | "native" | "node";

/** Options of {@link serve}. */
export interface AnyServeOptions extends ServeOptions {
  /**
   * Default `auto`. On Deno 2.9, `auto` picks the node:http bridge over `Deno.serve`: Deno.serve
   * reads chunked (streamed) request bodies, which docker and skopeo send, many times slower
   * (bench/results/design_notes.md).
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
