/**
 * fetch-registry: an OCI container registry as one Web-standard fetch handler.
 *
 * @module
 */
export { createRegistry } from "./lib/registry.ts";
export type { Registry, RegistryLogger, RegistryOptions } from "./lib/registry.ts";
export { ERROR_CODES, RegistryError } from "./lib/errors.ts";
export type { ErrorCode, RegistryErrorOptions } from "./lib/errors.ts";
export * from "./lib/storage/types.ts";
export { memoryStorage } from "./lib/storage/memory.ts";
export { fsStorage, type FsStorageOptions } from "./lib/storage/fs/mod.ts";
export { s3Storage, type S3StorageOptions } from "./lib/storage/s3/mod.ts";
export { startRegistry } from "./lib/server/start.ts";
export type { StartedRegistry, StartRegistryOptions } from "./lib/server/start.ts";
export { detectRuntime, serve } from "./lib/server/serve.ts";
export type { AnyServeOptions, Runtime, ServerKind } from "./lib/server/serve.ts";
export { serveNode } from "./lib/server/node.ts";
export { serveDeno } from "./lib/server/deno.ts";
export { serveBun } from "./lib/server/bun.ts";
export * from "./lib/server/types.ts";
export { formatRequestLog } from "./lib/server/log.ts";
