/**
 * Access control for test registries: each mode in one option, so client authors can test their
 * login and token code. `basic`: Basic credentials against a user list. `token`: the built-in token
 * service at `/token`, signing with an ephemeral key. `external`: the registry only verifies tokens
 * of an issuer made for the test (`registry.issuer`), whose realm is elsewhere.
 *
 * @module
 */
import { basicAuth } from "../auth/basic_mode.ts";
import { createBasicAuthenticator } from "../auth/basic.ts";
import type { RegistryAuth } from "../auth/guard.ts";
import { createPermissions } from "../auth/permissions.ts";
import type { PolicyDocument } from "../auth/policy.ts";
import { createTokenService, type TokenService } from "../auth/token_service.ts";
import { externalTokenAuth, tokenAuth } from "../auth/token_mode.ts";
import type { AuthorizeHook } from "../auth/types.ts";

/** Access control of a test registry. */
export interface TestAuthOptions {
  /** Which mode. */
  mode: "basic" | "token" | "external";
  /** Users and passwords. */
  users: Record<string, string>;
  /** The access policy. Default: authenticated users everything, anonymous nothing. */
  policy?: PolicyDocument;
  /** A hook instead of a policy. */
  authorize?: AuthorizeHook;
  /** Token modes: the service name. Default `fetch-registry`. */
  service?: string;
  /** Token modes: the issuer name. Default: the service name. */
  issuer?: string;
  /** Token modes: token lifetime, seconds. Default 300. */
  ttlSeconds?: number;
  /** `token`: the challenge's realm (default: `/token` of the request's origin); `external`: the
   * realm of the test's issuer (default `http://issuer.invalid/token`). */
  realm?: string;
}

/** What {@link resolveTestAuth} gives the test registry. */
export interface ResolvedTestAuth {
  /** The registry's access control. */
  auth: RegistryAuth;
  /** `external`: the issuer made for the test (serve its `fetch` at the realm, or call `issue`). */
  issuer?: TokenService;
}

/**
 * Resolve a test registry's `auth` option.
 *
 * @example
 * ```ts
 * const { auth } = resolveTestAuth({ mode: "basic", users: { alice: "secret" } });
 * ```
 */
export function resolveTestAuth(options: RegistryAuth | TestAuthOptions): ResolvedTestAuth {
  if (!("mode" in options)) return { auth: options };
  const { mode, users, policy, authorize, service, issuer, ttlSeconds, realm } = options;
  if (mode === "basic") return { auth: basicAuth({ users, policy, authorize, cacheTtlMs: 0 }) };
  if (mode === "token") {
    return { auth: tokenAuth({ users, policy, authorize, service, issuer, ttlSeconds, realm }) };
  }
  const permissions = createPermissions({ policy, authorize });
  const external = createTokenService({
    service,
    issuer,
    ttlSeconds,
    authenticator: createBasicAuthenticator({ users, cacheTtlMs: 0 }),
    allowed: (identity, repository) => permissions.allowed(identity, repository),
  });
  return {
    issuer: external,
    auth: externalTokenAuth({
      realm: realm ?? "http://issuer.invalid/token",
      service: external.service,
      issuer: external.issuer,
      jwks: () => external.jwks() as never,
    }),
  };
}
