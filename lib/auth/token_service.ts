/**
 * The built-in token service (Docker token spec, token.md and oauth.md), served at `/token`:
 * - `GET` with optional Basic credentials, `service` and repeated `scope` parameters;
 * - `POST` of the OAuth2 form with `grant_type=password` (`username`, `password`, `client_id`,
 *   `service`, space-separated `scope`). Refresh tokens are not issued: `grant_type=refresh_token`
 *   answers `unsupported_grant_type` (a client then logs in with its password again).
 *
 * The token's `access` claim is what the caller may do (policy or hook) intersected with what it
 * asked for; anonymous callers get only anonymous grants, and `registry:catalog:*` is granted to
 * authenticated callers only. Answers `{token, access_token, expires_in, issued_at}`.
 *
 * @module
 */
import { loadJose } from "./jose_loader.ts";
import { RegistryError } from "../errors.ts";
import { isValidName } from "../grammar.ts";
import type { BasicAuthenticator } from "./basic.ts";
import { parseBasic } from "./basic.ts";
import { basicChallenge } from "./challenge.ts";
import { loadSigningKey, type SigningKey, type SigningKeyInput } from "./keys.ts";
import { formatScope, parseScopes, type Scope } from "./scope.ts";
import { type AccessEntry, type Action, ACTIONS, type Identity } from "./types.ts";

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  /** The service name (`aud`). Default `fetch-registry`. */
  service?: string;
  /** The issuer (`iss`). Default: the service name. */
  issuer?: string;
  /** Token lifetime, seconds. Default 300. */
  ttlSeconds?: number;
  /** PKCS#8 PEM private key or CryptoKey pair; omitted: an ephemeral ES256 key. */
  privateKey?: SigningKeyInput;
  /** Checks the callers' passwords. Without it, every caller is anonymous. */
  authenticator?: BasicAuthenticator;
  /** The actions `identity` may perform on `repository`. */
  allowed(identity: Identity, repository: string): Promise<Set<Action>>;
  /** Called with every token issued, its subject, grants and expiry (seconds), before it is sent. */
  onIssued?(token: string, claims: IssuedClaims): void | Promise<void>;
}

/** What {@link TokenServiceOptions.onIssued} learns of a token. */
export interface IssuedClaims {
  /** `sub`; undefined for an anonymous caller. */
  subject?: string;
  /** The `access` claim. */
  access: AccessEntry[];
  /** `exp`, seconds since the epoch. */
  exp: number;
}

/** A token and its lifetime, as the endpoint answers. */
export interface IssuedToken {
  /** The JWT. */
  token: string;
  /** The same JWT (OAuth2 name). */
  access_token: string;
  /** Seconds until it expires. */
  expires_in: number;
  /** When it was issued, RFC 3339. */
  issued_at: string;
}

/** A token service. */
export interface TokenService {
  /** The service name. */
  readonly service: string;
  /** The issuer name. */
  readonly issuer: string;
  /** Answer a request to the token endpoint (GET or POST). */
  fetch(request: Request): Promise<Response>;
  /**
   * Issue a token to `identity` for what it asked and may have.
   *
   * @example
   * ```ts
   * await service.issue({ scheme: "basic", subject: "alice" }, [parseScope("repository:a:pull")!]);
   * ```
   */
  issue(identity: Identity, scopes: Scope[]): Promise<IssuedToken>;
  /** The public keys, for a verifier (`{ keys: [jwk] }`). */
  jwks(): Promise<{ keys: Record<string, unknown>[] }>;
}

const MAX_FORM_BYTES = 64 * 1024;
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

function reply(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...NO_STORE, ...headers },
  });
}

function oauthError(status: number, error: string, description: string): Response {
  return reply({ error, error_description: description }, status);
}

/** Read a form body of at most MAX_FORM_BYTES; undefined when larger. */
async function readForm(request: Request): Promise<URLSearchParams | undefined> {
  if (!request.body) return new URLSearchParams();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_FORM_BYTES) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

/**
 * Create the built-in token service.
 *
 * @example
 * ```ts
 * const service = createTokenService({
 *   privateKey: pem,
 *   authenticator: createBasicAuthenticator({ users: { alice: "secret" } }),
 *   allowed: async (who) => new Set(who.subject ? ["pull", "push", "delete"] : []),
 * });
 * ```
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const service = options.service ?? "fetch-registry";
  const issuer = options.issuer ?? service;
  const ttl = options.ttlSeconds ?? 300;
  if (!Number.isInteger(ttl) || ttl <= 0) {
    throw new TypeError("ttlSeconds must be a positive integer");
  }
  let key: Promise<SigningKey> | undefined;
  const signingKey = () => key ??= loadSigningKey(options.privateKey);
  const realm = "fetch-registry token service";

  async function grant(identity: Identity, scopes: Scope[]): Promise<AccessEntry[]> {
    const out: AccessEntry[] = [];
    for (const scope of scopes) {
      if (scope.type === "registry" && scope.name === "catalog") {
        if (identity.subject !== undefined && scope.actions.includes("*")) {
          out.push({ type: "registry", name: "catalog", actions: ["*"] });
        }
        continue;
      }
      if (scope.type !== "repository" || !isValidName(scope.name)) continue;
      const asked = new Set(scope.actions.includes("*") ? ACTIONS : scope.actions);
      const may = await options.allowed(identity, scope.name);
      const actions = ACTIONS.filter((a) => asked.has(a) && may.has(a));
      if (actions.length === 0) continue;
      const same = out.find((e) => e.type === "repository" && e.name === scope.name);
      if (same) {
        same.actions = ACTIONS.filter((a) => same.actions.includes(a) || actions.includes(a));
      } else out.push({ type: "repository", name: scope.name, actions });
    }
    return out;
  }

  async function issue(identity: Identity, scopes: Scope[]): Promise<IssuedToken> {
    return (await mint(identity, scopes)).issued;
  }

  async function mint(identity: Identity, scopes: Scope[]) {
    const jose = await loadJose();
    const k = await signingKey();
    const now = Math.floor(Date.now() / 1000);
    const access = await grant(identity, scopes);
    const token = await new jose.SignJWT({ access })
      .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT" })
      .setIssuer(issuer)
      .setSubject(identity.subject ?? "")
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(crypto.randomUUID())
      .sign(k.privateKey);
    await options.onIssued?.(token, { subject: identity.subject, access, exp: now + ttl });
    const issued: IssuedToken = {
      token,
      access_token: token,
      expires_in: ttl,
      issued_at: new Date(now * 1000).toISOString(),
    };
    return { issued, access };
  }

  async function login(user: string, password: string): Promise<Identity | undefined> {
    if (!options.authenticator || !(await options.authenticator.verify(user, password))) {
      return undefined;
    }
    return { scheme: "basic", subject: user };
  }

  async function get(request: Request, url: URL): Promise<Response> {
    const wanted = url.searchParams.get("service");
    if (wanted !== null && wanted !== service) {
      return oauthError(400, "invalid_request", "unknown service");
    }
    const scopes = parseScopes(url.searchParams.getAll("scope"));
    if (!scopes) return oauthError(400, "invalid_scope", "malformed scope");
    let identity: Identity = { scheme: "anonymous" };
    const header = request.headers.get("Authorization");
    if (header !== null) {
      const creds = parseBasic(header);
      const who = creds && await login(creds.user, creds.password);
      if (!who) {
        throw new RegistryError("UNAUTHORIZED", null, {
          message: "invalid user name or password",
          headers: { "WWW-Authenticate": basicChallenge(realm) },
        });
      }
      identity = who;
    }
    return reply(await issue(identity, scopes));
  }

  async function post(request: Request): Promise<Response> {
    const type = request.headers.get("Content-Type") ?? "";
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
      return oauthError(
        400,
        "invalid_request",
        "expected an application/x-www-form-urlencoded body",
      );
    }
    const form = await readForm(request);
    if (!form) return oauthError(400, "invalid_request", "form too large");
    const grantType = form.get("grant_type");
    if (grantType !== "password") {
      return oauthError(400, "unsupported_grant_type", "only grant_type=password is supported");
    }
    if (!form.get("client_id")) return oauthError(400, "invalid_request", "client_id is required");
    const wanted = form.get("service");
    if (wanted !== service) return oauthError(400, "invalid_request", "unknown service");
    const scopes = parseScopes(form.getAll("scope"));
    if (!scopes) return oauthError(400, "invalid_scope", "malformed scope");
    const identity = await login(form.get("username") ?? "", form.get("password") ?? "");
    if (!identity) return oauthError(401, "invalid_grant", "invalid user name or password");
    const { issued, access } = await mint(identity, scopes);
    return reply({ ...issued, scope: access.map(formatScope).join(" ") });
  }

  return {
    service,
    issuer,
    issue,
    async jwks() {
      return { keys: [(await signingKey()).publicJwk as Record<string, unknown>] };
    },
    async fetch(request) {
      const method = request.method;
      if (method === "GET" || method === "HEAD") return await get(request, new URL(request.url));
      if (method === "POST") return await post(request);
      throw new RegistryError("UNSUPPORTED", { method }, {
        message: "method not allowed on this endpoint",
        headers: { Allow: "GET, POST" },
      });
    },
  };
}
