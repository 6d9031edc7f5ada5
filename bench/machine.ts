/**
 * Machine details for the report: CPU, cores, memory, kernel, runtime and tool versions, date,
 * and the load average (other work on a shared machine shows up there).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { ROOT } from "./targets.ts";

/** What the report says about the machine. */
export interface MachineInfo {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  loadAverage: string;
  versions: Record<string, string>;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    const out = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return out.split("\n")[0].trim();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    const text = `${e.stdout ?? ""}${e.stderr ?? ""}`.split("\n")[0].trim();
    return text || "not installed";
  }
}

/** The 1, 5 and 15 minute load averages, formatted. */
export function loadAverage(): string {
  return os.loadavg().map((n) => n.toFixed(2)).join(" ");
}

/** Collect the machine details. */
export function machineInfo(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  const bin = join(ROOT, "node_modules", ".bin");
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: loadAverage(),
    versions: {
      node: process.version,
      deno: firstLine(join(bin, "deno"), ["--version"]),
      bun: firstLine(join(bin, "bun"), ["--version"]),
      distribution: firstLine("docker-registry", ["--version"]),
      curl: firstLine("curl", ["--version"]),
      wrk: firstLine("wrk", ["-v"]),
    },
  };
}
