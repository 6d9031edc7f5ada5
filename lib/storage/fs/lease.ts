/**
 * Leases of {@link fsStorage}: `<root>/leases/<name>` holds the holder's token and expiry. Every
 * read-check-write of a lease file runs under a lock file (lock.ts), so among processes sharing
 * the root (on one host or over a shared file system with O_EXCL) at most one holds a lease. A
 * lease whose holder was a process of this host that is gone (killed) is free at once; on another
 * host it is free when it expires.
 *
 * @module
 */
import { join } from "node:path";
import { randomName, readOptional, removeFile, writeFileAtomic } from "./io.ts";
import { processGone, withLock } from "./lock.ts";
import { hostname } from "node:os";
import process from "node:process";
import type { FsLayout } from "./paths.ts";
import type { Lease } from "../types.ts";

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const decoder = new TextDecoder();

interface Held {
  token: string;
  expiresAt: number;
  /** The holder's process id and host: a lease of a process gone from this host is free. */
  pid?: number;
  host?: string;
}

const HOST = hostname();

/** Whether `held` still binds: not expired, and its holder is not a process known to be gone. */
function binding(held: Held | undefined): boolean {
  if (!held || held.expiresAt <= Date.now()) return false;
  return !(held.host === HOST && typeof held.pid === "number" && processGone(held.pid));
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
    const record = () => JSON.stringify({ token, expiresAt, pid: process.pid, host: HOST });
    const taken = await withLock(lock, async () => {
      const current = await read();
      if (binding(current)) return false;
      await writeFileAtomic(layout.tmp, path, record());
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
          await writeFileAtomic(layout.tmp, path, record());
          return true;
        }),
      release: () =>
        withLock(lock, async () => {
          if ((await read())?.token === token) await removeFile(path);
        }),
    };
  };
}
