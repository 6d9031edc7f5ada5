/**
 * Token modes (Docker token spec): the registry answers 401 with a Bearer challenge, clients fetch
 * a token from the realm and send it as `Authorization: Bearer`. {@link tokenAuth} serves the
 * token endpoint itself (`/token`) and signs with its own key; {@link externalTokenAuth} only
 * verifies tokens of another issuer against its JWKS. A token lacking the scope a request needs
 * answers 401 with `error="insufficient_scope"`; a bad token 401 with `error="invalid_token"`.
 *
 * @module
 */
import type { JSONWebKeySet } from "jose";
import { RegistryError } from "../errors.ts";
import {
  type BasicAuthenticator,
  type BasicAuthenticatorOptions,
  createBasicAuthenticator,
} from "./basic.ts";
import { type BearerVerifier, createBearerVerifier, grants, InvalidTokenError } from "./bearer.ts";
import { bearerChallenge } from "./challenge.ts";
import { type AccessTarget, createGuard, type RegistryAuth } from "./guard.ts";
import { createPermissions, type PermissionOptions } from "./permissions.ts";
import type { Need } from "./route_access.ts";
import {
  createTokenService,
  type TokenService,
  type TokenServiceOptions,
} from "./token_service.ts";
import type { Identity } from "./types.ts";

/** Options of {@link tokenAuth}. */
export interface TokenAuthOptions
  extends
    BasicAuthenticatorOptions,
    PermissionOptions,
    Omit<TokenServiceOptions, "allowed" | "authenticator"> {
  /** Checks passwords at the token endpoint, instead of `htpasswd`/`users`. */
  authenticator?: BasicAuthenticator;
  /** The realm URL in challenges. Default: `/token` on the request's origin and base path. */
  realm?: string;
}

/** Options of {@link externalTokenAuth}. */
export interface ExternalTokenAuthOptions {
  /** The external token server's URL, sent as the challenge's realm. */
  realm: string;
  /** The service name (`aud` of accepted tokens). Default `fetch-registry`. */
  service?: string;
  /** The issuer (`iss` of accepted tokens). Default: the service name. */
  issuer?: string;
  /** The issuer's public keys (or a function that gives them, called once). */
  jwks: JSONWebKeySet | (() => Promise<JSONWebKeySet>);
}

interface BearerModeOptions {
  verifier: BearerVerifier;
  service: string;
  realm: (target: AccessTarget) => string;
  /** The catalog filter of a token's subject (undefined: all repositories). */
  visible?: (identity: Identity) => (name: string) => Promise<boolean>;
  token?: TokenService;
}

function scopeOf(target: AccessTarget, need: Need): string | undefined {
  if (need.kind === "catalog") return "registry:catalog:*";
  if (need.kind === "repository") return `repository:${target.name}:${need.scope.join(",")}`;
  return undefined;
}

function bearerMode(options: BearerModeOptions): RegistryAuth {
  const refusal = (
    target: AccessTarget,
    need: Need,
    error?: "invalid_token" | "insufficient_scope",
  ) =>
    new RegistryError("UNAUTHORIZED", null, {
      headers: {
        "WWW-Authenticate": bearerChallenge({
          realm: options.realm(target),
          service: options.service,
          scope: scopeOf(target, need),
          error,
        }),
      },
    });
  const refuse = (identity: Identity, target: AccessTarget, need: Need) =>
    refusal(target, need, identity.scheme === "bearer" ? "insufficient_scope" : undefined);
  return {
    token: options.token ? (request) => options.token!.fetch(request) : undefined,
    guard: createGuard({
      async identify(request, target, need) {
        const header = request.headers.get("Authorization");
        if (header === null) return { scheme: "anonymous" };
        const m = /^bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i.exec(header);
        if (!m) throw refusal(target, need, "invalid_token");
        try {
          const { subject, access } = await options.verifier.verify(m[1]);
          return { scheme: "bearer", subject, access };
        } catch (error) {
          if (error instanceof InvalidTokenError) throw refusal(target, need, "invalid_token");
          throw error;
        }
      },
      may: async (identity, repository, actions) =>
        identity.access !== undefined && grants(identity.access, "repository", repository, actions),
      async catalog(identity, target) {
        const need: Need = { kind: "catalog" };
        if (!identity.access || !grants(identity.access, "registry", "catalog", ["*"])) {
          throw refuse(identity, target, need);
        }
        return options.visible?.(identity);
      },
      refuse,
    }),
  };
}

/**
 * Access control by tokens of the built-in token service, served at `/token`.
 *
 * @example
 * ```ts
 * const registry = createRegistry({
 *   auth: tokenAuth({ privateKey: pem, htpasswd: text, policy: json, service: "registry.example" }),
 * });
 * ```
 */
export function tokenAuth(options: TokenAuthOptions): RegistryAuth {
  const authenticator = options.authenticator ?? createBasicAuthenticator(options);
  const permissions = createPermissions(options);
  // The verifier is made after the service (it needs the service's names and keys).
  const signedHere: { verifier?: BearerVerifier } = {};
  const service = createTokenService({
    ...options,
    authenticator,
    allowed: (identity, repository) => permissions.allowed(identity, repository),
    // A token signed here needs no signature check on its first use (bench/results/auth.md).
    // The caller's own onIssued (an audit log, say) still runs.
    async onIssued(token, claims) {
      await signedHere.verifier?.trustIssued(token, {
        subject: claims.subject,
        access: claims.access,
      }, claims.exp);
      await options.onIssued?.(token, claims);
    },
  });
  const verifier = signedHere.verifier = createBearerVerifier({
    issuer: service.issuer,
    service: service.service,
    jwks: () => service.jwks() as Promise<JSONWebKeySet>,
  });
  return bearerMode({
    verifier,
    service: service.service,
    token: service,
    realm: (target) => options.realm ?? `${target.url.origin}${target.basePath}/token`,
    visible: (identity) => (name) => permissions.may(identity, name, ["pull"]),
  });
}

/**
 * Access control by tokens of an external token server: the registry only verifies them.
 *
 * @example
 * ```ts
 * const registry = createRegistry({
 *   auth: externalTokenAuth({ realm: "https://auth.example/token", service: "registry.example", issuer: "auth.example", jwks }),
 * });
 * ```
 */
export function externalTokenAuth(options: ExternalTokenAuthOptions): RegistryAuth {
  const service = options.service ?? "fetch-registry";
  return bearerMode({
    verifier: createBearerVerifier({
      issuer: options.issuer ?? service,
      service,
      jwks: options.jwks,
    }),
    service,
    realm: () => options.realm,
  });
}
