/**
 * Signing keys of the built-in token service: a PEM (PKCS#8) private key, a CryptoKey pair, or an
 * ephemeral key made on first use. The algorithm follows the key: EC P-256 → ES256, RSA of at
 * least 2048 bits → RS256, Ed25519 → EdDSA. The `kid` is the RFC 7638 thumbprint of the public key.
 * jose is loaded on first use.
 *
 * @module
 */
import { loadJose } from "./jose_loader.ts";
import type { JWK } from "jose";

/** The signing algorithms the token service uses. */
export type SigningAlgorithm = "ES256" | "RS256" | "EdDSA";

/** A loaded signing key. */
export interface SigningKey {
  /** JWS algorithm. */
  alg: SigningAlgorithm;
  /** Key id written in each token's header. */
  kid: string;
  /** The private key. */
  privateKey: CryptoKey;
  /** The public key as a JWK (with `kid`, `alg` and `use`), for a JWKS. */
  publicJwk: JWK;
}

/** What {@link loadSigningKey} accepts. */
export type SigningKeyInput = string | CryptoKeyPair | undefined;

/** A key that cannot be used; the message says why. */
export class SigningKeyError extends Error {
  /** @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "SigningKeyError";
  }
}

function algOf(key: CryptoKey): SigningAlgorithm {
  const a = key.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  if (a.name === "ECDSA" && a.namedCurve === "P-256") return "ES256";
  if (a.name === "Ed25519") return "EdDSA";
  if (a.name === "RSASSA-PKCS1-v1_5") {
    if ((a.modulusLength ?? 0) < 2048) {
      throw new SigningKeyError("an RSA key needs 2048 bits or more");
    }
    return "RS256";
  }
  throw new SigningKeyError(
    `unsupported key ${a.name}${a.namedCurve ? ` ${a.namedCurve}` : ""}: ` +
      "use EC P-256 (ES256), RSA >= 2048 bits (RS256) or Ed25519 (EdDSA)",
  );
}

async function importPem(pem: string): Promise<CryptoKeyPair> {
  const jose = await loadJose();
  const label = /-----BEGIN ([A-Z ]+)-----/.exec(pem)?.[1];
  if (label !== "PRIVATE KEY") {
    throw new SigningKeyError(
      label === undefined
        ? "not a PEM private key"
        : `a "${label}" PEM is not supported: convert it to PKCS#8 ` +
          `("openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.p8.pem")`,
    );
  }
  let privateKey: CryptoKey | undefined;
  for (const alg of ["ES256", "RS256", "Ed25519"]) {
    try {
      privateKey = await jose.importPKCS8(pem, alg, { extractable: true });
      break;
    } catch {
      // not this kind of key
    }
  }
  if (!privateKey) {
    throw new SigningKeyError(
      "unsupported private key: use EC P-256 (ES256), RSA >= 2048 bits (RS256) or Ed25519 (EdDSA)",
    );
  }
  const kind = algOf(privateKey);
  const jwk = await jose.exportJWK(privateKey);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  const alg = kind === "EdDSA" ? "Ed25519" : kind;
  const publicKey = await jose.importJWK(pub, alg, { extractable: true }) as unknown as CryptoKey;
  return { privateKey, publicKey };
}

/**
 * Load a signing key: a PKCS#8 PEM text, a CryptoKey pair (public key extractable), or undefined
 * for an ephemeral ES256 key (gone when the process ends: tokens die with it).
 *
 * @example
 * ```ts
 * const key = await loadSigningKey(pemText);
 * key.alg; // "ES256"
 * ```
 */
export async function loadSigningKey(input: SigningKeyInput): Promise<SigningKey> {
  const jose = await loadJose();
  let pair: CryptoKeyPair;
  if (typeof input === "string") pair = await importPem(input);
  else if (input) pair = input;
  else pair = await jose.generateKeyPair("ES256", { extractable: true });
  const alg = algOf(pair.privateKey);
  const jwk = await jose.exportJWK(pair.publicKey);
  const kid = await jose.calculateJwkThumbprint(jwk);
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    publicJwk: { ...jwk, kid, alg, use: "sig" },
  };
}
