/**
 * fetch-registry/testing: a fake OCI registry for JavaScript test suites, on Node, Deno and Bun.
 * Seed it from code, read back what your client pushed, record every request, and inject faults
 * (429 with Retry-After, 5xx, latency, cut bodies, Warning headers, redirects) deterministically.
 * `storageContract` runs the storage contract suite against an adapter, with any test runner.
 *
 * @example
 * ```ts
 * import { createTestRegistry } from "fetch-registry/testing";
 * const registry = createTestRegistry();
 * await registry.seed.image("app", { tag: "latest", layers: ["hello"] });
 * const res = await registry.fetch("/v2/app/manifests/latest");
 * ```
 *
 * @module
 */
export { createTestRegistry, startTestRegistry } from "./test_registry.ts";
export type {
  ResetOptions,
  RunningTestRegistry,
  StartTestRegistryOptions,
  TestRegistry,
  TestRegistryOptions,
} from "./test_registry.ts";
export { resolveTestAuth } from "./test_auth.ts";
export type { ResolvedTestAuth, TestAuthOptions } from "./test_auth.ts";
export { createSeeder } from "./seed.ts";
export { ACCEPT_ALL_MANIFESTS, MEDIA_TYPES } from "./media_types.ts";
export type {
  ArtifactOptions,
  BlobOptions,
  ImageIndexJson,
  ImageManifestJson,
  ImageOptions,
  IndexOptions,
  LayerInput,
  ManifestOptions,
  SeededImage,
  SeededIndex,
  SeededManifest,
  Seeder,
  SeederOptions,
  TagOption,
} from "./seed_types.ts";
export { createInspector } from "./inspect.ts";
export type { InspectedImage, InspectedManifest, Inspector, InspectorOptions } from "./inspect.ts";
export { createRecorder, DEFAULT_RECORDED_HEADERS } from "./recorder.ts";
export type {
  RecordedRequest,
  Recorder,
  RecorderOptions,
  RequestFilter,
  RequestLog,
} from "./recorder.ts";
export { createFaults } from "./faults.ts";
export { InjectedFaultError } from "./fault_response.ts";
export type {
  FaultHandle,
  FaultInjector,
  FaultMark,
  FaultRule,
  Faults,
  FaultsOptions,
  Handler,
} from "./fault_types.ts";
export { digestOf, parsePlatform, sha256, toBytes } from "./content.ts";
export type { Content, FileContent, OciDescriptor, Platform } from "./content.ts";
export { pathPattern } from "./glob.ts";
export { RegistryResponseError } from "./http.ts";
export type { Fetcher } from "./http.ts";
export { storageContract } from "./storage_contract.ts";
export type {
  ContractTestFunction,
  StorageContractOptions,
  StorageFactory,
} from "./storage_contract.ts";
export type { CapabilityName } from "../storage/capabilities.ts";
