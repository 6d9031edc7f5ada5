/**
 * fetch-registry: an OCI container registry as one Web-standard fetch handler.
 *
 * @module
 */
export * from "./lib/storage/types.ts";
