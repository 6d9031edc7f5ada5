/**
 * bcrypt verification by hash-wasm (measured faster than bcryptjs on Node, Deno and Bun: see
 * bench/results/ab_bcrypt.md), loaded on the first check so importing the registry stays light.
 *
 * @module
 */

type Verify = (options: { password: Uint8Array; hash: string }) => Promise<boolean>;
let verifier: Promise<Verify> | undefined;

/** bcrypt reads at most 72 bytes of a password (and so does `htpasswd -B`). */
const MAX_BYTES = 72;

/**
 * Whether `password` matches the bcrypt `hash`. An empty password never matches; a malformed hash
 * is false, not an exception.
 *
 * @example
 * ```ts
 * await bcryptVerify("secret", "$2y$10$BkE.TVg9791KjiXcS.UWKO9dW9ol9Yal0kDI/F/sepwCaUx.Uy4KG");
 * ```
 */
export async function bcryptVerify(password: string, hash: string): Promise<boolean> {
  const bytes = new TextEncoder().encode(password).subarray(0, MAX_BYTES);
  if (bytes.length === 0) return false;
  verifier ??= import("hash-wasm").then((m) => m.bcryptVerify as Verify);
  const verify = await verifier;
  try {
    return await verify({ password: bytes, hash });
  } catch {
    return false;
  }
}
