/**
 * The servers under test: CNCF distribution (Debian `docker-registry`) and fetch-registry's CLI
 * on Node, Deno and Bun, each with filesystem storage in its own temporary directory, on
 * 127.0.0.1 and a free port. Nothing is installed here: a missing binary is reported with the
 * command that installs it.
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";

/** The repository root (bench/..). */
export const ROOT: string = resolve(
  new URL(".", import.meta.url).pathname,
  "..",
);
const BIN = join(ROOT, "node_modules", ".bin");

/** A server that can be started. */
export interface Target {
  /** Short id: `distribution`, `node`, `deno`, `bun`. */
  id: string;
  /** Column title. */
  label: string;
  /** Why it cannot run here (with how to fix it), or undefined when it can. */
  unavailable(): string | undefined;
  /** Version string for the report. */
  version(): string;
  /** The command line that serves `dir` on `port`; `flags` go to the runtime (profilers). */
  command(
    dir: string,
    port: number,
    flags?: string[],
  ): { cmd: string; args: string[]; env?: Record<string, string> };
}

/** A started server. */
export interface RunningTarget {
  target: Target;
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** The server's process id (its descendants are counted too). */
  pid: number;
  /** Its data directory. */
  dir: string;
  /** Its combined stdout/stderr log. */
  log: string;
  /** Stop it (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split(
      "\n",
    )[0].trim();
  } catch {
    return "unknown";
  }
}

/**
 * The fetch-registry CLI entry point. `FETCH_REGISTRY_BENCH_ENTRY` overrides it (a script taking
 * the same `--storage fs:DIR --port P --host H` flags), e.g. to measure a work-in-progress server.
 */
export const CLI: string = process.env.FETCH_REGISTRY_BENCH_ENTRY
  ? resolve(process.env.FETCH_REGISTRY_BENCH_ENTRY)
  : join(ROOT, "lib", "cli", "main.ts");

/**
 * A second entry point for before/after comparisons (`FETCH_REGISTRY_BENCH_ALT`, e.g. a patched
 * copy of lib/ under .tmp/): adds the targets `node-alt`, `deno-alt`, `bun-alt`.
 */
export const ALT_CLI: string | undefined = process.env.FETCH_REGISTRY_BENCH_ALT
  ? resolve(process.env.FETCH_REGISTRY_BENCH_ALT)
  : undefined;

function cliArgs(dir: string, port: number): string[] {
  return ["--storage", `fs:${dir}`, "--port", String(port), "--host", "127.0.0.1"];
}

function missing(entry: string, bin?: string): string | undefined {
  if (!existsSync(entry)) return `${entry} does not exist yet`;
  if (bin && !existsSync(join(BIN, bin))) return `${bin} is missing: npm install`;
  return undefined;
}

/** CNCF distribution 2.8 from Debian. */
export const distribution: Target = {
  id: "distribution",
  label: "distribution",
  unavailable() {
    return which("docker-registry")
      ? undefined
      : "docker-registry is not installed; install it with `sudo apt-get install docker-registry` (Debian/Ubuntu) and run the bench again";
  },
  version() {
    return firstLine("docker-registry", ["--version"]);
  },
  command(dir, port) {
    const config = join(dir, "config.yml");
    mkdirSync(join(dir, "data"), { recursive: true });
    writeFileSync(
      config,
      [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  cache:",
        "    blobdescriptor: inmemory",
        "  filesystem:",
        `    rootdirectory: ${join(dir, "data")}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        "  secret: fetch-registry-bench",
        "",
      ].join("\n"),
    );
    return { cmd: "docker-registry", args: ["serve", config] };
  },
};

/**
 * fetch-registry's targets for one entry point. On Node it runs as it ships: the entry built to
 * one ESM file with esbuild (packages left as imports), run by plain node (through tsx's loader
 * the idle server holds ~30 MiB more: that is the `node-tsx` target).
 */
function runtimeTargets(entry: string, suffix: string): Target[] {
  const build = join(ROOT, ".tmp", "bench", `cli${suffix}.mjs`);
  const tag = suffix ? ` (${entry})` : "";
  return [
    {
      id: `node${suffix}`,
      label: `node${suffix}`,
      unavailable: () => missing(entry),
      version: () => `node ${process.version} (esbuild build)${tag}`,
      command(dir, port, flags = []) {
        mkdirSync(dirname(build), { recursive: true });
        execFileSync(join(BIN, "esbuild"), [
          entry,
          "--bundle",
          "--platform=node",
          "--format=esm",
          "--packages=external",
          "--log-level=warning",
          `--outfile=${build}`,
        ], { stdio: ["ignore", "ignore", "inherit"] });
        return {
          cmd: process.execPath,
          args: [...flags, build, ...cliArgs(join(dir, "data"), port)],
        };
      },
    },
    {
      id: `deno${suffix}`,
      label: `deno${suffix}`,
      unavailable: () => missing(entry, "deno"),
      version: () => firstLine(join(BIN, "deno"), ["--version"]) + tag,
      command(dir, port, flags = []) {
        return {
          cmd: join(BIN, "deno"),
          // As README.md tells Deno users: V8's own gc exposed, for lib/server/gc_nudge.ts.
          args: [
            "run",
            "-A",
            "--v8-flags=--expose-gc,--max-semi-space-size=1",
            ...flags,
            entry,
            ...cliArgs(join(dir, "data"), port),
          ],
        };
      },
    },
    {
      id: `bun${suffix}`,
      label: `bun${suffix}`,
      unavailable: () => missing(entry, "bun"),
      version: () => `bun ${firstLine(join(BIN, "bun"), ["--version"])}${tag}`,
      command(dir, port, flags = []) {
        return {
          cmd: join(BIN, "bun"),
          args: [...flags, entry, ...cliArgs(join(dir, "data"), port)],
        };
      },
    },
  ];
}

/** fetch-registry on Node through tsx's loader (in-process, so the pid is the server's). */
export const nodeTsx: Target = {
  id: "node-tsx",
  label: "node (tsx)",
  unavailable: () => missing(CLI),
  version: () => `node ${process.version} (tsx loader)`,
  command(dir, port, flags = []) {
    return {
      cmd: process.execPath,
      args: [...flags, "--import", "tsx", CLI, ...cliArgs(join(dir, "data"), port)],
    };
  },
};

/** Every target, distribution first. */
export const TARGETS: readonly Target[] = [
  distribution,
  ...runtimeTargets(CLI, ""),
  nodeTsx,
  ...(ALT_CLI ? runtimeTargets(ALT_CLI, "-alt") : []),
];

/** The targets measured unless `--targets` says otherwise. */
export const DEFAULT_TARGETS: readonly string[] = ["distribution", "node", "deno", "bun"];

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** The last `lines` lines of a file. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once("exit", () => done());
  });
}

/**
 * Start `target` serving `dir`; resolves once `GET /v2/` answers 200.
 *
 * @param cpus CPU list for `taskset -c` (pinning), or undefined.
 * @param flags Runtime flags (e.g. `--inspect=…`, `--cpu-prof`).
 */
export async function startTarget(
  target: Target,
  dir: string,
  cpus?: string,
  flags?: string[],
): Promise<RunningTarget> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const { cmd, args, env } = target.command(dir, port, flags);
  const log = join(dir, "server.log");
  const out = openSync(log, "a");
  const [file, argv] = cpus ? ["taskset", ["-c", cpus, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    cwd: ROOT,
    stdio: ["ignore", out, out],
    env: { ...process.env, ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited(child);
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${target.id} exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
    }
    try {
      const res = await fetch(`${base}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${target.id} did not answer GET /v2/ within 60 s:\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { target, base, pid: child.pid as number, dir, log, stop };
}
