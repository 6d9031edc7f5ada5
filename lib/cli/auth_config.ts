/**
 * The CLI's access control and TLS: reads the files the flags name (node:fs, so lib/auth stays
 * runtime-free) and builds the `auth` and `tls` options of `startRegistry`. Every file is read and
 * checked before the server starts: a bad htpasswd line, policy, key or JWKS is an
 * {@link AuthConfigError} naming the flag, the file and the problem (the CLI prints it, exit 1).
 *
 * Modes, from the flags (lib/cli/args.ts rejects the combinations that cannot work):
 * - `--htpasswd` alone (plus `--access`): Basic.
 * - `--token-key` with `--htpasswd` (plus `--access`): the built-in token service at `/token`. The
 *   challenge's realm is `/token` on the origin the client used (the request's Host and scheme),
 *   so it is right behind `--host 0.0.0.0` and for every name the server is reached by;
 *   `--token-realm` overrides it (e.g. behind a proxy that rewrites Host).
 * - `--token-realm` with `--token-jwks`: an external token server; tokens are only verified.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import type { JSONWebKeySet } from "jose";
import { basicAuth } from "../auth/basic_mode.ts";
import type { RegistryAuth } from "../auth/guard.ts";
import { parseHtpasswd } from "../auth/htpasswd.ts";
import { loadSigningKey } from "../auth/keys.ts";
import { type AccessPolicy, parsePolicy } from "../auth/policy.ts";
import { externalTokenAuth, tokenAuth } from "../auth/token_mode.ts";
import type { TlsOptions } from "../server/types.ts";
import type { CliOptions } from "./args.ts";

/** A file named by a flag that cannot be used; the message names the flag, file and problem. */
export class AuthConfigError extends Error {
  /** @param message What is wrong, and where. */
  constructor(message: string) {
    super(message);
    this.name = "AuthConfigError";
  }
}

/** What the access-control flags configure. */
export interface AccessConfig {
  /** The `auth` option of the registry; undefined: no access control. */
  auth?: RegistryAuth;
  /** Which mode, for the startup line. */
  mode: "open" | "basic" | "token" | "external token";
  /** The `tls` option of the server; undefined: plain HTTP. */
  tls?: TlsOptions;
}

function readText(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const why = e.code === "ENOENT"
      ? "no such file"
      : e.code === "EACCES"
      ? "permission denied"
      : e.code === "EISDIR"
      ? "a directory, not a file"
      : String(e.message ?? error).split("\n")[0];
    throw new AuthConfigError(`${flag} ${path}: cannot read it: ${why}`);
  }
}

/** Run `check`, prefixing a failure's message with the flag and file. */
async function checked<T>(flag: string, path: string, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof AuthConfigError) throw error;
    const message = String((error as Error)?.message ?? error).split("\n")[0];
    throw new AuthConfigError(`${flag} ${path}: ${message}`);
  }
}

function parseJwks(text: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error('expected a JWKS: {"keys": [ ...public keys... ]} with at least one key');
  }
  keys.forEach((key, i) => {
    const k = key as Record<string, unknown>;
    if (typeof k !== "object" || k === null || typeof k.kty !== "string") {
      throw new Error(`keys[${i}] is not a JWK (no "kty")`);
    }
    if (k.kty === "oct") {
      throw new Error(`keys[${i}] is a symmetric key: only public keys are accepted`);
    }
    if ("d" in k) throw new Error(`keys[${i}] is a private key: give the public half only`);
    if (typeof k.kid !== "string" || k.kid === "") {
      throw new Error(`keys[${i}] has no "kid" (tokens name their key by kid)`);
    }
  });
  return doc as JSONWebKeySet;
}

/**
 * Read and check the files of the access-control and TLS flags and build the options.
 *
 * @example
 * ```ts
 * const { auth, tls } = await accessFromOptions(parseArgs(["--htpasswd", "users"]));
 * ```
 */
export async function accessFromOptions(options: CliOptions): Promise<AccessConfig> {
  let tls: TlsOptions | undefined;
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
    const cert = readText("--tls-cert", options.tlsCert);
    const key = readText("--tls-key", options.tlsKey);
    if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
      throw new AuthConfigError(`--tls-cert ${options.tlsCert}: not a PEM certificate`);
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
      throw new AuthConfigError(`--tls-key ${options.tlsKey}: not a PEM private key`);
    }
    tls = { cert, key };
  }
  if (options.tokenJwks !== undefined) {
    const path = options.tokenJwks;
    const jwks = await checked(
      "--token-jwks",
      path,
      () => parseJwks(readText("--token-jwks", path)),
    );
    const auth = externalTokenAuth({
      realm: options.tokenRealm!,
      service: options.tokenService,
      issuer: options.tokenIssuer,
      jwks,
    });
    return { auth, mode: "external token", tls };
  }
  if (options.htpasswd === undefined) return { mode: "open", tls };
  const htpasswdPath = options.htpasswd;
  const htpasswd = await checked(
    "--htpasswd",
    htpasswdPath,
    () => parseHtpasswd(readText("--htpasswd", htpasswdPath)),
  );
  let policy: AccessPolicy | undefined;
  if (options.access !== undefined) {
    const path = options.access;
    policy = await checked("--access", path, () => parsePolicy(readText("--access", path)));
  }
  if (options.tokenKey === undefined) {
    return { auth: basicAuth({ htpasswd, policy }), mode: "basic", tls };
  }
  const keyPath = options.tokenKey;
  const pem = readText("--token-key", keyPath);
  // Load it now so that a bad key stops the start, not the first login.
  await checked("--token-key", keyPath, () => loadSigningKey(pem));
  const auth = tokenAuth({
    htpasswd,
    policy,
    privateKey: pem,
    service: options.tokenService,
    issuer: options.tokenIssuer,
    ttlSeconds: options.tokenTtl,
    realm: options.tokenRealm,
  });
  return { auth, mode: "token", tls };
}

/**
 * Whether `host` is a loopback address: 127.0.0.0/8, ::1 or `localhost`.
 *
 * @example
 * ```ts
 * isLoopback("127.0.0.2"); // true
 * isLoopback("0.0.0.0"); // false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === "::1";
}

/**
 * The warnings the startup prints for `host` and the configuration: an open registry on an address
 * others can reach, and credentials in clear text over the network.
 *
 * @example
 * ```ts
 * exposureWarnings("0.0.0.0", { mode: "open" }); // ["... open to anyone who reaches it ..."]
 * ```
 */
export function exposureWarnings(host: string, access: AccessConfig): string[] {
  if (isLoopback(host)) return [];
  if (!access.auth) {
    return [
      `${host} is not a loopback address and there is no access control: the registry is open ` +
      `to anyone who reaches it (anyone can push, overwrite and delete); give --htpasswd or ` +
      `--token-key/--token-jwks`,
    ];
  }
  if (!access.tls) {
    return [
      `${host} is not a loopback address and there is no TLS: credentials and tokens cross the ` +
      `network in clear text; give --tls-cert and --tls-key`,
    ];
  }
  return [];
}
