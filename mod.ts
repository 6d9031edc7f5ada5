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
export { fsStorage, type FsStorageOptions } from "./lib/storage/fs.ts";
export { s3Storage, type S3StorageOptions } from "./lib/storage/s3.ts";
export { startRegistry } from "./lib/server/start.ts";
export type { StartedRegistry, StartRegistryOptions } from "./lib/server/start.ts";
export { detectRuntime, serve } from "./lib/server/serve.ts";
export type { AnyServeOptions, Runtime, ServerKind } from "./lib/server/serve.ts";
export { serveNode } from "./lib/server/node.ts";
export { serveDeno } from "./lib/server/deno.ts";
export { serveBun } from "./lib/server/bun.ts";
export * from "./lib/server/types.ts";
export { formatRequestLog } from "./lib/server/log.ts";
export { storageFromSpec, StorageSpecError } from "./lib/storage/from_spec.ts";
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
