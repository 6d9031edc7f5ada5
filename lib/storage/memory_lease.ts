/**
 * Leases of {@link memoryStorage}: one holder per name within the process, until expiry.
 *
 * @module
 */
import type { Lease } from "./types.ts";

/**
 * The `lease` member of an in-process adapter: named leases in a map, each held until it expires
 * or its holder releases it.
 *
 * @example
 * ```ts
 * const lease = memoryLeases();
 * const held = await lease("gc", 60_000); // a Lease, or undefined while another one holds it
 * ```
 */
export function memoryLeases(): (name: string, ttlMs: number) => Promise<Lease | undefined> {
  const held = new Map<string, { token: object; expiresAt: number }>();
  return (name, ttlMs) => {
    const current = held.get(name);
    if (current && current.expiresAt > Date.now()) return Promise.resolve(undefined);
    const entry = { token: {}, expiresAt: Date.now() + ttlMs };
    held.set(name, entry);
    const mine = () => held.get(name) === entry && entry.expiresAt > Date.now();
    const lease: Lease = {
      get expiresAt() {
        return entry.expiresAt;
      },
      renew(ttl: number) {
        if (!mine()) return Promise.resolve(false);
        entry.expiresAt = Date.now() + ttl;
        return Promise.resolve(true);
      },
      release() {
        if (held.get(name) === entry) held.delete(name);
        return Promise.resolve();
      },
    };
    return Promise.resolve(lease);
  };
}
