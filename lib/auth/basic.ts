/**
 * The Basic authenticator: checks `Authorization: Basic` credentials against htpasswd entries
 * (bcrypt) or an in-memory `{ user: password }` list.
 *
 * bcrypt at cost 10 takes tens of milliseconds and an image pull is a dozen requests, so a
 * successful check is remembered briefly, keyed by an HMAC (random per-process key) of
 * `user:password`: the password itself is never kept. Failures are never remembered. Concurrent
 * checks of the same credentials share one bcrypt run. An unknown user costs one bcrypt run too,
 * so timing does not tell which users exist.
 *
 * @module
 */
import { bcryptVerify } from "./bcrypt.ts";
import { type HtpasswdEntry, parseHtpasswd } from "./htpasswd.ts";
import { type KeyedHash, keyedHash } from "./keyed_hash.ts";

/** Options of {@link createBasicAuthenticator}. */
export interface BasicAuthenticatorOptions {
  /** An htpasswd file's text, or its parsed entries. */
  htpasswd?: string | HtpasswdEntry[];
  /** Users and plain-text passwords (tests, development). */
  users?: Record<string, string>;
  /** How long a successful check is remembered, ms. Default 60 000; 0 never remembers. */
  cacheTtlMs?: number;
  /** At most this many remembered checks. Default 1000. */
  cacheSize?: number;
}

/** Credentials of a `Basic` Authorization header. */
export interface BasicCredentials {
  /** User name. */
  user: string;
  /** Password. */
  password: string;
}

/** A Basic authenticator. */
export interface BasicAuthenticator {
  /**
   * Whether `password` is `user`'s.
   *
   * @example
   * ```ts
   * await basic.verify("alice", "secret"); // true
   * ```
   */
  verify(user: string, password: string): Promise<boolean>;
}

/** A bcrypt hash of a random password no one knows, checked for unknown users. */
const DUMMY_HASH = "$2y$10$IU8fOpZdjAYNckmvrvTtreaxl31NPB/4jgSvYGnJm/pdzyMsf.do.";

/**
 * Parse a `Basic` Authorization header; undefined when it is not a well-formed Basic one.
 *
 * @example
 * ```ts
 * parseBasic("Basic " + btoa("alice:secret")); // { user: "alice", password: "secret" }
 * ```
 */
export function parseBasic(header: string): BasicCredentials | undefined {
  const m = /^basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!m) return undefined;
  let text: string;
  try {
    const binary = atob(m[1]);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Compare two equal-length hex digests without an early exit. */
function sameDigest(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Create a Basic authenticator.
 *
 * @example
 * ```ts
 * const basic = createBasicAuthenticator({ htpasswd: await Deno.readTextFile("htpasswd") });
 * await basic.verify("alice", "secret");
 * ```
 */
export function createBasicAuthenticator(
  options: BasicAuthenticatorOptions = {},
): BasicAuthenticator {
  const ttl = options.cacheTtlMs ?? 60_000;
  const size = options.cacheSize ?? 1000;
  const hashes = new Map<string, string>();
  const source = options.htpasswd;
  const entries = typeof source === "string" ? parseHtpasswd(source) : source ?? [];
  for (const { user, hash } of entries) hashes.set(user, hash);
  const plain = new Map(Object.entries(options.users ?? {}));
  for (const user of plain.keys()) {
    if (hashes.has(user)) throw new TypeError(`user "${user}" is both in htpasswd and users`);
  }
  let mac: KeyedHash | undefined;
  const ready = keyedHash().then((hash) => mac = hash);
  ready.catch(() => {}); // a failure surfaces on the first check
  // Load and compile bcrypt now, not on the first request (errors surface on first use).
  if (hashes.size > 0) bcryptVerify("warm-up", DUMMY_HASH).catch(() => {});
  /** Remembered successes: keyed hash of `user:password` → expiry time. */
  const remembered = new Map<string, number>();
  const inflight = new Map<string, Promise<boolean>>();

  async function check(user: string, password: string): Promise<boolean> {
    const stored = plain.get(user);
    if (stored !== undefined) return sameDigest(mac!(`\0${password}`), mac!(`\0${stored}`));
    const hash = hashes.get(user);
    const ok = await bcryptVerify(password, hash ?? DUMMY_HASH);
    return ok && hash !== undefined;
  }

  function remember(key: string): void {
    if (ttl <= 0) return;
    remembered.delete(key);
    if (remembered.size >= size) {
      const oldest = remembered.keys().next().value;
      if (oldest !== undefined) remembered.delete(oldest);
    }
    remembered.set(key, Date.now() + ttl);
  }

  return {
    async verify(user, password) {
      if (user === "" || user.includes(":")) return false;
      if (!mac) await ready;
      const key = mac!(`${user}:${password}`);
      const until = remembered.get(key);
      if (until !== undefined) {
        if (until > Date.now()) return true;
        remembered.delete(key);
      }
      let pending = inflight.get(key);
      if (!pending) {
        pending = check(user, password).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      const ok = await pending;
      if (ok) remember(key);
      return ok;
    },
  };
}
