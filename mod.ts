/**
 * fetch-registry: an OCI container registry as one Web-standard fetch handler. This entry point is
 * the runtime-free core: `createRegistry`, its errors, the storage contract and the in-memory
 * adapter. It loads no server, no file system and no S3 client; those are the subpaths
 * `fetch-registry/fs` (fsStorage), `fetch-registry/s3` (s3Storage), `fetch-registry/server`
 * (startRegistry, serve) and `fetch-registry/testing`.
 *
 * @example
 * ```ts
 * import { createRegistry, memoryStorage } from "fetch-registry";
 * const registry = createRegistry({ storage: memoryStorage() });
 * const response = await registry.fetch(new Request("http://localhost/v2/"));
 * ```
 *
 * @module
 */
export { createRegistry } from "./lib/registry.ts";
export type { Registry, RegistryLogger, RegistryOptions } from "./lib/registry.ts";
export { ERROR_CODES, RegistryError } from "./lib/errors.ts";
export type { ErrorCode, RegistryErrorOptions } from "./lib/errors.ts";
export * from "./lib/storage/types.ts";
export {
  capabilitiesOf,
  CAPABILITY_MEMBERS,
  CAPABILITY_NAMES,
} from "./lib/storage/capabilities.ts";
export type { CapabilityName, StorageCapabilities } from "./lib/storage/capabilities.ts";
export { memoryStorage } from "./lib/storage/memory.ts";
