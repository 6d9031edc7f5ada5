/**
 * The load-side processes, each separate from the server under test: the upload client
 * (bench/client.ts, one long-lived process spoken to in JSON lines), curl for downloads, wrk for
 * GET load, bench/load.ts for HEAD load (wrk and autocannon stall on HEAD responses that carry
 * Content-Length).
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "./targets.ts";

/** Prefix a command with `taskset -c <cpus>` when pinning. */
function pinned(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus ? ["taskset", ["-c", cpus, cmd, ...args]] : [cmd, args];
}

/** Run a command to its end; its stdout (rejects with stderr on a non-zero exit). */
export function runCommand(
  cmd: string,
  args: string[],
  options: { cpus?: string; timeoutMs?: number } = {},
): Promise<string> {
  const [file, argv] = pinned(options.cpus, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 600_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else {reject(
          new Error(
            `${cmd} ${args.slice(0, 3).join(" ")}… exited ${code ?? signal}: ${
              err.trim().slice(0, 400)
            }`,
          ),
        );}
    });
  });
}

/** The upload client process (bench/client.ts on Node). */
export class ClientProcess {
  readonly #child: ChildProcess;
  readonly #waiting: Array<(line: string) => void> = [];

  /** Start the client (pinned to `cpus` if given). */
  constructor(cpus?: string) {
    const [file, argv] = pinned(cpus, process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "bench", "client.ts"),
    ]);
    this.#child = spawn(file, argv, { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: this.#child.stdout! });
    lines.on("line", (line) => this.#waiting.shift()?.(line));
    this.#child.on("exit", () => {
      for (const w of this.#waiting.splice(0)) {
        w(JSON.stringify({ ok: false, error: "client exited" }));
      }
    });
  }

  /** Send one command; its result (throws the client's error). */
  call<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#waiting.push((line) => {
        const reply = JSON.parse(line) as { ok: boolean; error?: string };
        if (reply.ok) resolve(reply as T);
        else reject(new Error(reply.error));
      });
      this.#child.stdin!.write(JSON.stringify(command) + "\n");
    });
  }

  /** Ask the client to exit. */
  async close(): Promise<void> {
    await this.call({ op: "exit" }).catch(() => {});
  }
}

/** GET a whole blob with curl into /dev/null; seconds and bytes. */
export async function curlPull(
  url: string,
  cpus?: string,
): Promise<{ seconds: number; bytes: number }> {
  const out = await runCommand("curl", [
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code} %{size_download} %{time_total}",
    url,
  ], { cpus });
  const [status, bytes, seconds] = out.trim().split(" ");
  if (status !== "200") throw new Error(`GET ${url}: HTTP ${status}`);
  return { seconds: Number(seconds), bytes: Number(bytes) };
}

/**
 * `count` ranged GETs over one keep-alive connection (one curl process), after 3 warm-up
 * requests; per-request latencies in ms, sorted.
 */
export async function curlRanges(
  url: string,
  range: string,
  length: number,
  count: number,
  cpus?: string,
): Promise<number[]> {
  const args = ["-sS", "-r", range, "-w", "%{http_code} %{size_download} %{time_total}\\n"];
  for (let i = 0; i < count + 3; i++) args.push("-o", "/dev/null", url);
  const out = await runCommand("curl", args, { cpus });
  const ms: number[] = [];
  out.trim().split("\n").forEach((line, i) => {
    const [status, bytes, seconds] = line.split(" ");
    if (status !== "206" || Number(bytes) !== length) {
      throw new Error(`ranged GET: HTTP ${status}, ${bytes} bytes (expected 206, ${length})`);
    }
    if (i >= 3) ms.push(Number(seconds) * 1000);
  });
  return ms.sort((a, b) => a - b);
}

/** Request rate and latency of a closed-loop load run. */
export interface LoadResult {
  rps: number;
  p99Ms: number;
  p50Ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors. */
  failures: number;
  tool: string;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** Run wrk (one thread, `connections` connections): a 1 s warm-up, then `seconds` measured. */
export async function wrk(
  url: string,
  options: { connections: number; seconds: number; headers: Record<string, string>; cpus?: string },
): Promise<LoadResult> {
  const headers = Object.entries(options.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
  const common = ["-t1", `-c${options.connections}`, ...headers];
  await runCommand("wrk", [...common, "-d1s", url], { cpus: options.cpus });
  const out = await runCommand("wrk", [...common, `-d${options.seconds}s`, "--latency", url], {
    cpus: options.cpus,
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "");
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "");
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, p50Ms: p50, p99Ms: p99, requests, failures: non2xx + socketErrors, tool: "wrk" };
}

/** Run bench/load.ts (for HEAD): 1 s warm-up inside, then `seconds` measured. */
export async function loadGen(
  url: string,
  options: {
    method: string;
    connections: number;
    seconds: number;
    headers: Record<string, string>;
    cpus?: string;
  },
): Promise<LoadResult> {
  const spec = JSON.stringify({
    url,
    method: options.method,
    connections: options.connections,
    seconds: options.seconds,
    warmupSeconds: 1,
    headers: options.headers,
  });
  const out = await runCommand(process.execPath, [
    "--import",
    "tsx",
    join(ROOT, "bench", "load.ts"),
    spec,
  ], {
    cpus: options.cpus,
  });
  const r = JSON.parse(out) as {
    rps: number;
    p50Ms: number;
    p99Ms: number;
    requests: number;
    nonOk: number;
    errors: number;
  };
  return {
    rps: r.rps,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    requests: r.requests,
    failures: r.nonOk + r.errors,
    tool: "bench/load.ts",
  };
}
