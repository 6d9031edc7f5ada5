/**
 * A keyed hash (HMAC-SHA-256, random per-process key) of credentials, to remember successful
 * checks without keeping the credentials. hash-wasm's HMAC runs synchronously once created, so a
 * remembered check costs microseconds; Web Crypto's `sign` is a promise per call, measured four
 * times slower per request (bench/results/auth.md).
 *
 * @module
 */

/** Hashes text with the process's key; hex output. */
export type KeyedHash = (text: string) => string;

let shared: Promise<KeyedHash> | undefined;

/**
 * The process's keyed hash (created on first use; the key never leaves this module).
 *
 * @example
 * ```ts
 * const hash = await keyedHash();
 * hash("alice:secret"); // 64 hex digits, different in every process
 * ```
 */
export function keyedHash(): Promise<KeyedHash> {
  shared ??= (async () => {
    const { createHMAC, createSHA256 } = await import("hash-wasm");
    const key = crypto.getRandomValues(new Uint8Array(32));
    const hmac = await createHMAC(createSHA256(), key);
    key.fill(0);
    return (text: string) => hmac.init().update(text).digest("hex");
  })();
  return shared;
}
