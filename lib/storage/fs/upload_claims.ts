/**
 * Offset claims of {@link fsStorage} upload sessions: who may write at the session's end.
 *
 * A session keeps its bytes in one file, written in place. Before an append (or the commit)
 * touches it, it claims the offset it works at: the file `claim-<offset>` in the session
 * directory, created atomically with its content by `link(pending, claim-<offset>)`, which fails
 * when the name exists. So of two requests at the same offset exactly one holds the claim, across
 * processes on the same root. The session's size only moves from `S` under the claim of `S`, so
 * the holder of the claim at the current size is the only writer of the session.
 *
 * The claim names its holder: `<pid> <host> <process instance> <nonce> <kind>`. A holder that
 * crashed (kill -9, power loss) leaves its claim behind; the claim is stale when its holder is
 * certainly gone: on this host its process no longer runs (or its pid now belongs to this
 * process, started after it), or this process made it and no longer holds it; from another host,
 * when its modification time, which a live holder refreshes every {@link REFRESH_MS}, is older
 * than {@link STALE_MS}. Like the tag locks (lock.ts), this assumes that processes sharing a
 * host name share a pid namespace.
 *
 * The calls of an uncontended claim and its release are synchronous (see uploads.ts for
 * why); looking at a taken claim and breaking a stale one are rare, and asynchronous.
 *
 * Breaking a stale claim must not break a fresh one that took its name meanwhile. The breaker
 * first links the claim to `claim-<offset>.broken-<nonce>` (the nonce of the holder it judged
 * stale): `link` fails if that name exists, so exactly one process breaks a given claim, and the
 * content of the name it linked tells it whether that was the stale claim (and not one taken
 * since); only then does it remove `claim-<offset>`, which nobody else removes. A breaker that
 * itself crashed between these steps leaves its `.broken-` link behind; one older than
 * {@link BREAK_GRACE_MS} is removed so that the next attempt can break the claim. (A live
 * breaker stalled for that long between two system calls could then let two processes break one
 * claim: two faults at once, and even then the handler's digest check stands between the bytes
 * and a visible blob only when the digest is computed again from storage.)
 *
 * @module
 */
import { linkSync, promises as fsp, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { clearInterval, setInterval } from "node:timers";
import { errorCode, isMissing, randomName } from "./io.ts";
import { processGone } from "./lock.ts";

/** A claim whose holder is on another host and that is older than this is stale. */
export const STALE_MS = 60_000;
/** A live holder refreshes its claim's modification time this often. */
export const REFRESH_MS = 10_000;
/** A `.broken-` link older than this was left by a breaker that crashed. */
export const BREAK_GRACE_MS = 5_000;
/** A claim whose content cannot be parsed (never written by this module) and is this old. */
const GARBAGE_GRACE_MS = 2_000;
/** How often a taken claim is looked at, broken and tried again before it counts as busy. */
const ATTEMPTS = 16;

const HOST = hostname();
/** This process, as opposed to an earlier one that had the same pid. */
const INSTANCE = randomName(9);
/** The claims this process holds: path → nonce. */
const held = new Map<string, string>();

/** What a claim is for: appending data at its offset, or committing the session at that size. */
export type ClaimKind = "append" | "commit";

/** The holder named in a claim file. */
export interface ClaimHolder {
  /** Process id on `host`. */
  pid: number;
  /** Host name. */
  host: string;
  /** Random id of the holder's process. */
  instance: string;
  /** Random id of this claim. */
  nonce: string;
  /** What the holder is doing. */
  kind: ClaimKind;
}

/** A claim this process holds. */
export interface Claim {
  /** The claim file. */
  readonly path: string;
  /** Give the claim up (idempotent). */
  release(): Promise<void>;
}

/** The outcome of {@link claimOffset} when the claim was not taken. */
export type NotClaimed =
  /** The session directory does not exist (ended or never existed). */
  | { missing: true }
  /** A live holder has it (undefined: a holder this module cannot name). */
  | { missing: false; holder: ClaimHolder | undefined };

function parseHolder(text: string): ClaimHolder | undefined {
  const [pid, host, instance, nonce, kind, extra] = text.split(" ");
  if (extra !== undefined || !/^\d+$/.test(pid ?? "") || !host || !instance || !nonce) {
    return undefined;
  }
  if (kind !== "append" && kind !== "commit") return undefined;
  return { pid: Number(pid), host, instance, nonce, kind };
}

/** The claim's holder and modification time, or undefined when the file is gone. */
async function inspect(
  path: string,
): Promise<{ holder: ClaimHolder | undefined; mtimeMs: number; ctimeMs: number } | undefined> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, "r");
    const stat = await handle.stat();
    const text = new TextDecoder().decode(await handle.readFile());
    return { holder: parseHolder(text), mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Whether the holder of the claim at `path` is certainly gone. */
function isStale(path: string, holder: ClaimHolder | undefined, mtimeMs: number): boolean {
  const age = Date.now() - mtimeMs;
  if (!holder) return age > GARBAGE_GRACE_MS;
  if (holder.host === HOST) {
    if (holder.instance === INSTANCE) return held.get(path) !== holder.nonce;
    if (holder.pid === process.pid) return true; // an earlier process that had this pid
    return processGone(holder.pid);
  }
  return age > STALE_MS;
}

/**
 * Break the stale claim at `path` whose holder had `nonce` (see the module notes). Answers false
 * when another process is breaking it right now.
 */
async function breakClaim(path: string, nonce: string, graceMs: number): Promise<boolean> {
  const broken = `${path}.broken-${nonce}`;
  try {
    await fsp.link(path, broken);
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT") return true; // the claim is gone already
    if (code !== "EEXIST") throw error;
    // Another process is breaking it (microseconds), or crashed doing so.
    const left = await inspect(broken);
    if (left && Date.now() - left.ctimeMs > graceMs) {
      await fsp.unlink(broken).catch(() => {});
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
    return false;
  }
  try {
    // The name now holds whatever `path` was at the link: the stale claim, or a fresh one taken
    // after the stale one was broken by someone else (then it is not ours to remove).
    if ((await inspect(broken))?.holder?.nonce === nonce) {
      await fsp.unlink(path).catch((error) => {
        if (!isMissing(error)) throw error;
      });
    }
  } finally {
    await fsp.unlink(broken).catch(() => {});
  }
  return true;
}

/** Options of {@link claimOffset}. */
export interface ClaimOptions {
  /** A `.broken-` link older than this was left by a crashed breaker. */
  breakGraceMs?: number;
}

/**
 * Claim `offset` in the session directory `dir` for `kind`. Answers the claim, or why not: the
 * directory is missing, or a live holder has the claim. Stale claims are broken on the way.
 *
 * @example
 * ```ts
 * const claim = await claimOffset(dir, 8 << 20, "append");
 * if ("release" in claim) try { ... } finally { await claim.release(); }
 * ```
 */
export async function claimOffset(
  dir: string,
  offset: number,
  kind: ClaimKind,
  options: ClaimOptions = {},
): Promise<Claim | NotClaimed> {
  const graceMs = options.breakGraceMs ?? BREAK_GRACE_MS;
  const path = join(dir, `claim-${offset}`);
  const nonce = randomName(12);
  const pending = join(dir, `pending-${nonce}`);
  try {
    writeFileSync(pending, `${process.pid} ${HOST} ${INSTANCE} ${nonce} ${kind}`, { flag: "wx" });
  } catch (error) {
    if (isMissing(error)) return { missing: true };
    throw error;
  }
  let holder: ClaimHolder | undefined;
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        linkSync(pending, path);
        return hold(path, nonce);
      } catch (error) {
        const code = errorCode(error);
        if (code === "ENOENT") return { missing: true };
        if (code !== "EEXIST") throw error;
      }
      const found = await inspect(path);
      if (!found) continue; // released meanwhile
      holder = found.holder;
      if (!isStale(path, holder, found.mtimeMs)) return { missing: false, holder };
      if (holder) await breakClaim(path, holder.nonce, graceMs);
      else await fsp.unlink(path).catch(() => {}); // garbage, not written by this module
    }
  } finally {
    try {
      unlinkSync(pending);
    } catch {
      // The session ended meanwhile: gone with it.
    }
  }
  // Still taken after all this: someone else is breaking it or keeps taking it. Busy, as if held.
  return { missing: false, holder };
}

function hold(path: string, nonce: string): Claim {
  held.set(path, nonce);
  // For holders on other hosts, which can only judge the claim by its age.
  const timer = setInterval(() => {
    const now = new Date();
    fsp.utimes(path, now, now).catch(() => {});
  }, REFRESH_MS);
  timer.unref?.();
  let released: Promise<void> | undefined;
  return {
    path,
    release() {
      released ??= (async () => {
        clearInterval(timer);
        if (held.get(path) !== nonce) return;
        try {
          // Removed while it is still marked held: nobody takes it for stale meanwhile.
          unlinkSync(path);
        } catch (error) {
          if (!isMissing(error)) throw error;
        } finally {
          held.delete(path); // if the file stayed, it is stale now and will be broken
        }
      })();
      return released;
    },
  };
}
