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
export { basicAuth, type BasicAuthOptions } from "./lib/auth/basic_mode.ts";
export {
  externalTokenAuth,
  type ExternalTokenAuthOptions,
  tokenAuth,
  type TokenAuthOptions,
} from "./lib/auth/token_mode.ts";
export type { AccessGrant, AccessTarget, RegistryAuth } from "./lib/auth/guard.ts";
export {
  type BasicAuthenticator,
  type BasicAuthenticatorOptions,
  type BasicCredentials,
  createBasicAuthenticator,
  parseBasic,
} from "./lib/auth/basic.ts";
export { type HtpasswdEntry, HtpasswdError, parseHtpasswd } from "./lib/auth/htpasswd.ts";
export {
  type AccessPolicy,
  defaultPolicy,
  parsePolicy,
  type PolicyDocument,
  type PolicyEntry,
  PolicyError,
} from "./lib/auth/policy.ts";
export { formatScope, parseScope, parseScopes, type Scope } from "./lib/auth/scope.ts";
export { basicChallenge, type BearerChallenge, bearerChallenge } from "./lib/auth/challenge.ts";
export {
  createTokenService,
  type IssuedToken,
  type TokenService,
  type TokenServiceOptions,
} from "./lib/auth/token_service.ts";
export {
  type BearerVerifier,
  type BearerVerifierOptions,
  createBearerVerifier,
  InvalidTokenError,
  type VerifiedToken,
} from "./lib/auth/bearer.ts";
export {
  loadSigningKey,
  type SigningAlgorithm,
  type SigningKey,
  SigningKeyError,
  type SigningKeyInput,
} from "./lib/auth/keys.ts";
export type {
  AccessEntry,
  AccessRequest,
  Action,
  AuthorizeHook,
  Identity,
} from "./lib/auth/types.ts";
