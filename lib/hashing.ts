/**
 * Incremental hashing with node:crypto (Node, Deno and Bun all implement `createHash`; WebCrypto
 * has no incremental digest), and the in-process cache of upload hash states.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";

/** An incremental hash of one digest algorithm. */
export interface Hasher {
  /** Feed bytes. */
  update(chunk: Uint8Array): void;
  /** The finished digest, `algorithm:hex`. The hasher cannot be used afterwards. */
  digest(): string;
}

/** A hasher for `algorithm` (`sha256` or `sha512`). */
export function createHasher(algorithm: string): Hasher {
  const hash: Hash = createHash(algorithm);
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => `${algorithm}:${hash.digest("hex")}`,
  };
}

/** The digest of bytes in memory (manifests). */
export function digestBytes(algorithm: string, bytes: Uint8Array): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/** The digest of a stream, read to its end. */
export async function digestStream(
  algorithm: string,
  stream: AsyncIterable<Uint8Array>,
): Promise<string> {
  const hasher = createHasher(algorithm);
  for await (const chunk of stream) hasher.update(chunk);
  return hasher.digest();
}

/** A hash state that has consumed exactly `offset` bytes of an upload. */
export interface UploadHashState {
  /** The hasher. */
  hasher: Hasher;
  /** Bytes consumed. */
  offset: number;
  /** The session's algorithm. */
  algorithm: string;
}

/**
 * Hash states of the upload sessions this process is receiving, so that a commit does not re-read
 * the upload. A state is taken out while an append runs and put back only when the append
 * succeeded, so a failed or concurrent append can never leave a state that disagrees with storage;
 * when the state is missing (restart, another replica, eviction) the handler re-hashes from
 * storage. Bounded: the oldest entries are evicted first.
 */
export class UploadHashCache {
  readonly #states = new Map<string, UploadHashState>();
  readonly #max: number;

  /** @param max Most sessions kept. */
  constructor(max = 1024) {
    this.#max = max;
  }

  /** Take the state of `id` out of the cache (the caller owns it until it puts it back). */
  take(id: string): UploadHashState | undefined {
    const state = this.#states.get(id);
    this.#states.delete(id);
    return state;
  }

  /** Put a state (back) into the cache. */
  put(id: string, state: UploadHashState): void {
    this.#states.delete(id);
    this.#states.set(id, state);
    if (this.#states.size > this.#max) {
      const oldest = this.#states.keys().next().value;
      if (oldest !== undefined) this.#states.delete(oldest);
    }
  }

  /** Forget `id`. */
  delete(id: string): void {
    this.#states.delete(id);
  }
}
