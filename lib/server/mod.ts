/**
 * fetch-registry/server: a registry (or any fetch handler) on a real socket, on whichever runtime
 * runs it: `startRegistry`, `serve`, the per-runtime servers (`serveNode`, the node:http bridge on
 * any runtime; `serveDeno`; `serveBun`) and the access-log line.
 *
 * @example
 * ```ts
 * import { startRegistry } from "fetch-registry/server";
 * const registry = await startRegistry({ port: 0 });
 * console.log(registry.url);
 * await registry.close();
 * ```
 *
 * @module
 */
export { startRegistry } from "./start.ts";
export type { StartedRegistry, StartRegistryOptions } from "./start.ts";
export { detectRuntime, serve } from "./serve.ts";
export type { AnyServeOptions, Runtime, ServerKind } from "./serve.ts";
export { serveNode } from "./node.ts";
export { serveDeno } from "./deno.ts";
export { serveBun } from "./bun.ts";
export * from "./types.ts";
export { formatRequestLog, REQUEST_LOG_PATTERN } from "./log.ts";
export { remoteAddress } from "./remote_address.ts";
