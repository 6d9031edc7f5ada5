/**
 * Leases of {@link fsStorage}: `<root>/leases/<name>` holds the holder's token and expiry. Every
 * read-check-write of a lease file runs under a lock file (lock.ts), so among processes sharing
 * the root (on one host or over a shared file system with O_EXCL) at most one holds a lease.
 *
 * @module
 */
import { join } from "node:path";
import { randomName, readOptional, removeFile, writeFileAtomic } from "./io.ts";
import { withLock } from "./lock.ts";
import type { FsLayout } from "./paths.ts";
import type { Lease } from "../types.ts";

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const decoder = new TextDecoder();

interface Held {
  token: string;
  expiresAt: number;
}

/** The `lease` member of {@link fsStorage} over `layout`. */
export function fsLeases(
  layout: FsLayout,
): (name: string, ttlMs: number) => Promise<Lease | undefined> {
  return async (name, ttlMs) => {
    if (!NAME.test(name)) throw new TypeError(`fsStorage: invalid lease name ${name}`);
    const path = join(layout.root, "leases", name);
    const lock = join(layout.root, "leases", `.lock-${name}`);
    const read = async (): Promise<Held | undefined> => {
      const bytes = await readOptional(path);
      return bytes && JSON.parse(decoder.decode(bytes)) as Held;
    };
    const token = randomName();
    let expiresAt = Date.now() + ttlMs;
    const taken = await withLock(lock, async () => {
      const current = await read();
      if (current && current.expiresAt > Date.now()) return false;
      await writeFileAtomic(layout.tmp, path, JSON.stringify({ token, expiresAt }));
      return true;
    });
    if (!taken) return undefined;
    return {
      get expiresAt() {
        return expiresAt;
      },
      renew: (ttl) =>
        withLock(lock, async () => {
          const current = await read();
          if (current?.token !== token || current.expiresAt <= Date.now()) return false;
          expiresAt = Date.now() + ttl;
          await writeFileAtomic(layout.tmp, path, JSON.stringify({ token, expiresAt }));
          return true;
        }),
      release: () =>
        withLock(lock, async () => {
          if ((await read())?.token === token) await removeFile(path);
        }),
    };
  };
}
