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
   * Default `auto`. On Deno 2.9, `auto` picks the node:http bridge over `Deno.serve`, measured with
   * the registry and fs storage (bench/run.ts, one run, both with fsStorage's file-backed
   * downloads; bench/results/ab_pull_deno.md): Deno.serve reads a chunked (streamed, no
   * Content-Length) request body at 7-31 MiB/s as soon as the handler does async I/O per chunk,
   * against 200-250 MiB/s for Deno's node:http (what docker and skopeo send); monolithic pushes
   * and 1 GiB pulls are even (push ~2.5 CPU s/GiB, pull 0.4-0.5 CPU s/GiB and 0.9-1.9 GB/s, both);
   * peak RSS alike. Deno.serve answers ~1.5× the small requests per second (~18k vs ~12k, trivial
   * handler), which matters less to a registry than pushes.
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
