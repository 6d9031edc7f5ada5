/**
 * Bearer token verification (Docker token spec, jwt.md): the signature against a JWKS key found
 * by the header's `kid`, `iss`, `aud` (must be the service), `exp` (required) and `nbf` with at
 * most 60 s of clock skew, and the shape of the `access` claim. Refuses `alg: none`, symmetric
 * algorithms (HS*), tokens without a `kid` and unknown keys. jose is loaded on first use.
 *
 * @module
 */
import { loadJose } from "./jose_loader.ts";
import type { JSONWebKeySet } from "jose";
import { type KeyedHash, keyedHash } from "./keyed_hash.ts";
import type { AccessEntry } from "./types.ts";

/** The asymmetric JWS algorithms a token may use. */
export const TOKEN_ALGORITHMS: readonly string[] = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
  "Ed25519",
];

/** Options of {@link createBearerVerifier}. */
export interface BearerVerifierOptions {
  /** Required `iss`. */
  issuer: string;
  /** The service name: required `aud`. */
  service: string;
  /** The issuer's public keys, or a function that gives them (called once, on first use). */
  jwks: JSONWebKeySet | (() => Promise<JSONWebKeySet>);
  /** Allowed clock skew, seconds (at most 60). Default 60. */
  clockToleranceSeconds?: number;
  /**
   * How long a verified token is remembered (keyed hash of the token → its claims), ms; never
   * past the token's `exp`. Default 60 000; 0 never remembers. Refusals are never remembered.
   */
  cacheTtlMs?: number;
}

/** What a valid token says. */
export interface VerifiedToken {
  /** `sub`; undefined for an anonymous token (empty or missing `sub`). */
  subject?: string;
  /** The `access` claim (empty when absent). */
  access: AccessEntry[];
}

/** A token that is not valid; the message says why (never the token itself). */
export class InvalidTokenError extends Error {
  /** @param message Why the token is refused. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidTokenError";
  }
}

/** A bearer verifier. */
export interface BearerVerifier {
  /**
   * Verify a compact JWT; throws {@link InvalidTokenError} when it is not valid.
   *
   * @example
   * ```ts
   * const { subject, access } = await verifier.verify(token);
   * ```
   */
  verify(token: string): Promise<VerifiedToken>;
  /**
   * Remember a token this process has just signed as verified, with its claims, until the
   * earlier of the cache lifetime and `exp` (seconds): the built-in token service calls it, so
   * the first request with a fresh token skips a signature verification. Never call it for a
   * token from elsewhere.
   *
   * @example
   * ```ts
   * verifier.trustIssued(jwt, { subject: "alice", access }, exp);
   * ```
   */
  trustIssued(token: string, result: VerifiedToken, exp: number): Promise<void>;
}

function accessClaim(value: unknown): AccessEntry[] {
  if (value === undefined) return [];
  const ok = Array.isArray(value) &&
    value.every((e) =>
      typeof e === "object" && e !== null && typeof e.type === "string" &&
      typeof e.name === "string" && Array.isArray(e.actions) &&
      e.actions.every((a: unknown) => typeof a === "string")
    );
  if (!ok) throw new InvalidTokenError("malformed access claim");
  return (value as AccessEntry[]).map((e) => ({
    type: e.type,
    name: e.name,
    actions: [...e.actions],
  }));
}

/**
 * Create a bearer verifier.
 *
 * @example
 * ```ts
 * const verifier = createBearerVerifier({ issuer: "auth", service: "registry", jwks });
 * ```
 */
export function createBearerVerifier(options: BearerVerifierOptions): BearerVerifier {
  const tolerance = Math.min(options.clockToleranceSeconds ?? 60, 60);
  let keySet: Promise<Parameters<typeof import("jose").jwtVerify>[1]> | undefined;
  const keys = () =>
    keySet ??= (async () => {
      const jose = await loadJose();
      const jwks = typeof options.jwks === "function" ? await options.jwks() : options.jwks;
      return jose.createLocalJWKSet(jwks);
    })();
  const ttl = options.cacheTtlMs ?? 60_000;
  const remembered = new Map<string, { result: VerifiedToken; until: number }>();
  let hash: KeyedHash | undefined;
  const ready = keyedHash().then((h) => hash = h);
  ready.catch(() => {}); // a failure surfaces on the first check
  let joseModule: typeof import("jose") | undefined;

  function remember(key: string, result: VerifiedToken, exp: number, nbf: number | undefined) {
    const now = Date.now();
    if (ttl <= 0 || (nbf !== undefined && nbf * 1000 > now)) return;
    if (remembered.size >= 1000) {
      for (const [k, v] of remembered) if (v.until <= now) remembered.delete(k);
      if (remembered.size >= 1000) remembered.delete(remembered.keys().next().value!);
    }
    remembered.set(key, { result, until: Math.min(now + ttl, exp * 1000) });
  }

  return {
    async trustIssued(token, result, exp) {
      if (!hash) await ready;
      remember(hash!(token), result, exp, undefined);
    },
    async verify(token) {
      if (!hash) await ready;
      const key = hash!(token);
      const known = remembered.get(key);
      if (known) {
        if (known.until > Date.now()) return known.result;
        remembered.delete(key);
      }
      const jose = joseModule ??= await loadJose();
      let header;
      try {
        header = jose.decodeProtectedHeader(token);
      } catch {
        throw new InvalidTokenError("malformed token");
      }
      if (typeof header.alg !== "string" || !TOKEN_ALGORITHMS.includes(header.alg)) {
        throw new InvalidTokenError(`algorithm ${String(header.alg)} is not accepted`);
      }
      if (typeof header.kid !== "string" || header.kid === "") {
        throw new InvalidTokenError("token has no key id");
      }
      let payload;
      try {
        ({ payload } = await jose.jwtVerify(token, await keys(), {
          issuer: options.issuer,
          audience: options.service,
          algorithms: [...TOKEN_ALGORITHMS],
          clockTolerance: tolerance,
          requiredClaims: ["exp"],
        }));
      } catch (error) {
        const code = (error as { code?: string }).code ?? "ERR_JWT_INVALID";
        throw new InvalidTokenError(`token refused (${code})`);
      }
      const sub = payload.sub;
      const result: VerifiedToken = {
        subject: typeof sub === "string" && sub !== "" ? sub : undefined,
        access: accessClaim(payload.access),
      };
      remember(key, result, payload.exp!, payload.nbf);
      return result;
    },
  };
}

/**
 * Whether `access` grants every one of `actions` on the resource (`*` grants every action).
 *
 * @example
 * ```ts
 * grants(token.access, "repository", "a/b", ["pull"]);
 * ```
 */
export function grants(
  access: readonly AccessEntry[],
  type: string,
  name: string,
  actions: readonly string[],
): boolean {
  const held = new Set<string>();
  for (const e of access) {
    if (e.type === type && e.name === name) { for (const a of e.actions) held.add(a); }
  }
  return actions.every((a) => held.has(a) || held.has("*"));
}
