/**
 * Server process statistics from Linux `/proc`: CPU time (utime + stime) and resident memory of a
 * process and its descendants, and peak RSS over an interval (VmHWM reset through `clear_refs`,
 * cross-checked by sampling VmRSS).
 *
 * @module
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux). */
const CLK_TCK = 100;

interface StatLine {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): StatLine | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** `pid` and every live descendant of it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop() as number;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU seconds (user + system) used so far by the processes `pids`.
 *
 * @example
 * ```ts
 * const before = cpuSeconds(processTree(pid));
 * ```
 */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

function statusKiB(pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Current resident set of `pids` together, in bytes. */
export function rssBytes(pids: readonly number[]): number {
  let kib = 0;
  for (const pid of pids) kib += statusKiB(pid, "VmRSS");
  return kib * 1024;
}

/** Peak RSS of a set of processes over an interval. */
export interface PeakRss {
  /** Stop sampling; the peak in bytes (max of the sampled sum and of the summed VmHWM). */
  stop(): { peak: number; sampled: number; hwm: number };
}

/**
 * Start watching the peak RSS of `pids`: resets each process's VmHWM (`echo 5 > clear_refs`,
 * Linux ≥ 4.0; ignored where not permitted) and samples VmRSS every `intervalMs`.
 */
export function watchPeakRss(pids: readonly number[], intervalMs = 10): PeakRss {
  let hwmReset = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      hwmReset = false;
    }
  }
  let sampled = rssBytes(pids);
  const timer = setInterval(() => {
    sampled = Math.max(sampled, rssBytes(pids));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sampled = Math.max(sampled, rssBytes(pids));
      let hwm = 0;
      if (hwmReset) { for (const pid of pids) hwm += statusKiB(pid, "VmHWM") * 1024; }
      return { peak: Math.max(sampled, hwm), sampled, hwm };
    },
  };
}
