/**
 * The CLI (lib/cli/main.ts) as a child process for the tests that need a real server process (crash,
 * skopeo, S3 replicas, the CLI itself): spawned on the runtime running the test file, its output
 * collected, started servers found by their `listening on` line, and stopped by signal.
 *
 * Signals are sent by pid (`process.kill`), never with `ChildProcess.kill()`: Deno's
 * child_process then reports the signal as the exit cause even when the child handled it and
 * exited 0.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { detectRuntime } from "../../lib/server/serve.ts";

/**
 * The repository's root directory.
 *
 * @example
 * ```ts
 * join(REPO_ROOT, "lib", "cli", "deno_serve.ts");
 * ```
 */
export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const CLI = join(REPO_ROOT, "lib", "cli", "main.ts");

/** How long a server gets to print its `listening on` line. */
const START_TIMEOUT_MS = 30_000;

/** The signals the tests send. */
export type Signal = "SIGTERM" | "SIGINT" | "SIGKILL";

/**
 * The program and arguments that run the CLI with `args` on the runtime running this file:
 * `node --import tsx`, `deno run -A` or `bun`.
 *
 * @example
 * ```ts
 * const [cmd, argv] = cliCommand(["--help"]);
 * spawnSync(cmd, argv);
 * ```
 */
export function cliCommand(args: string[]): [string, string[]] {
  switch (detectRuntime()) {
    case "deno":
      return [process.execPath, ["run", "-A", "--no-prompt", CLI, ...args]];
    case "bun":
      return [process.execPath, [CLI, ...args]];
    default: {
      const tsx = pathToFileURL(join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
      return [process.execPath, ["--import", tsx, CLI, ...args]];
    }
  }
}

/** Options of {@link spawnProcess} and {@link spawnCli}. */
export interface SpawnOptions {
  /** Working directory. Default: the repository root. */
  cwd?: string;
  /** Variables added to this process's environment (which always gets `NO_COLOR=1`). */
  env?: Record<string, string>;
}

/** A spawned process with its output collected. */
export interface ChildRun {
  /** The child process. */
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Everything written to either, in arrival order. */
  output(): string;
  /**
   * Resolves with the exit code, or the name of the signal that ended the process, once it has
   * exited and its output is all collected.
   */
  readonly exited: Promise<number | string>;
  /** Whether the process is still running. */
  running(): boolean;
  /**
   * Resolves with the first line of stdout, or else of stderr, that matches `pattern` (colour
   * codes removed), waiting up to `ms` for it; rejects on timeout or when the process exits first.
   */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Send `signal` (by pid). */
  signal(signal: Signal): void;
  /** SIGKILL the process (if running) and resolve once it is reaped, with how it ended. */
  kill(): Promise<number | string>;
  /**
   * SIGTERM the process (if running), SIGKILL it if it is still running after `ms` (default 10 s),
   * and resolve with how it ended.
   */
  stop(ms?: number): Promise<number | string>;
}

// deno-lint-ignore no-control-regex
const COLOUR_CODES = /\x1b\[[0-9;]*m/g;

function firstLine(text: string, pattern: RegExp): RegExpExecArray | undefined {
  for (const line of text.replace(COLOUR_CODES, "").split("\n")) {
    const m = pattern.exec(line);
    if (m) return m;
  }
  return undefined;
}

/**
 * Spawn `command` with `args`, collecting its output.
 *
 * @example
 * ```ts
 * const serve = spawnProcess(denoPath, ["serve", "-A", "--port", "0", "lib/cli/deno_serve.ts"]);
 * const [, port] = await serve.waitFor(/Listening on http:\/\/[^\s]*:(\d+)\//);
 * await serve.stop();
 * ```
 */
export function spawnProcess(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ChildRun {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  let out = "";
  let err = "";
  let both = "";
  const watchers = new Set<() => void>();
  const collect = (stream: "out" | "err") => (data: Uint8Array) => {
    const text = new TextDecoder().decode(data);
    if (stream === "out") out += text;
    else err += text;
    both += text;
    for (const watch of watchers) watch();
  };
  child.stdout!.on("data", collect("out"));
  child.stderr!.on("data", collect("err"));
  let ended = false;
  // "close", not "exit": it comes once stdout and stderr are drained too.
  const exited = new Promise<number | string>((done) => {
    child.on("close", (code, signal) => {
      ended = true;
      done(code ?? signal ?? -1);
    });
  });
  const running = () => !ended && child.exitCode === null && child.signalCode === null;
  const signal = (sig: Signal) => {
    if (running()) process.kill(child.pid!, sig);
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    output: () => both,
    exited,
    running,
    waitFor(pattern, ms = START_TIMEOUT_MS) {
      return new Promise((done, fail) => {
        const check = () => firstLine(out, pattern) ?? firstLine(err, pattern);
        const finish = (error?: Error) => {
          clearTimeout(timer);
          watchers.delete(watch);
          const m = check();
          if (m) done(m);
          else fail(error);
        };
        const watch = () => {
          if (check()) finish();
        };
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${pattern}; stdout ${out}; stderr ${err}`)),
          ms,
        );
        watchers.add(watch);
        exited.then((how) =>
          finish(new Error(`exited (${how}) before ${pattern}; stdout ${out}; stderr ${err}`))
        );
        watch();
      });
    },
    signal,
    kill() {
      signal("SIGKILL");
      return exited;
    },
    async stop(ms = 10_000) {
      signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((done) => (timer = setTimeout(() => done("late"), ms)));
      const how = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (how !== "late") return how;
      signal("SIGKILL");
      return await exited;
    },
  };
}

/**
 * Spawn the CLI with `args` on this runtime ({@link cliCommand}), collecting its output.
 *
 * @example
 * ```ts
 * const cli = spawnCli(["--nope"]);
 * assert.equal(await cli.exited, 2);
 * assert.match(cli.stderr(), /unknown flag/);
 * ```
 */
export function spawnCli(args: string[], options: SpawnOptions = {}): ChildRun {
  const [command, argv] = cliCommand(args);
  return spawnProcess(command, argv, options);
}

/**
 * The CLI's `listening on` line; groups: URL, host (`127.0.0.1:PORT`), port.
 *
 * @example
 * ```ts
 * const [, url, host, port] = await cli.waitFor(LISTENING);
 * ```
 */
export const LISTENING: RegExp = /listening on (http:\/\/(127\.0\.0\.1:(\d+)))/;

/** A CLI server, listening. */
export interface CliServer extends ChildRun {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT` (what skopeo and docker take). */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
}

/**
 * Start the CLI on a free port with `storage` (`memory`, `fs:DIR`, `s3://...`) and resolve once it
 * prints where it listens. If it does not start, it is killed and the error carries its output.
 *
 * @example
 * ```ts
 * const server = await startCliServer(`fs:${dir}`);
 * await fetch(`${server.url}/v2/`);
 * assert.equal(await server.stop(), 0);
 * ```
 */
export async function startCliServer(
  storage: string,
  options: SpawnOptions = {},
): Promise<CliServer> {
  const run = spawnCli(["--port", "0", "--storage", storage], options);
  try {
    const [, url, host, port] = await run.waitFor(LISTENING);
    return { ...run, url, host, port: Number(port) };
  } catch (error) {
    await run.kill();
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`the CLI server did not start (--storage ${storage}): ${why}`, {
      cause: error,
    });
  }
}
