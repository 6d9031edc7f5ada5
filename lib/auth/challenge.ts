/**
 * `WWW-Authenticate` values (RFC 9110 §11.6.1, Docker token spec token.md).
 *
 * @module
 */

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The Basic challenge.
 *
 * @example
 * ```ts
 * basicChallenge("fetch-registry"); // 'Basic realm="fetch-registry", charset="UTF-8"'
 * ```
 */
export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}, charset="UTF-8"`;
}

/** Parameters of a Bearer challenge. */
export interface BearerChallenge {
  /** The token endpoint URL. */
  realm: string;
  /** The service name tokens are issued for. */
  service: string;
  /** The scope the request needed (space-separated when several). */
  scope?: string;
  /** `invalid_token` or `insufficient_scope` (RFC 6750 §3.1). */
  error?: "invalid_token" | "insufficient_scope";
}

/**
 * The Bearer challenge.
 *
 * @example
 * ```ts
 * bearerChallenge({ realm: "https://r.example/token", service: "r", scope: "repository:a:pull" });
 * // 'Bearer realm="https://r.example/token",service="r",scope="repository:a:pull"'
 * ```
 */
export function bearerChallenge(challenge: BearerChallenge): string {
  let value = `Bearer realm=${quote(challenge.realm)},service=${quote(challenge.service)}`;
  if (challenge.scope) value += `,scope=${quote(challenge.scope)}`;
  if (challenge.error) value += `,error=${quote(challenge.error)}`;
  return value;
}
