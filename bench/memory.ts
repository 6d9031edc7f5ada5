/**
 * Server memory under large transfers: a 1 GiB push and a 1 GiB pull through the real CLI server
 * (fs storage) on each runtime, plus the same pull by a client that reads slowly (the server must
 * apply backpressure, not buffer). Reports the server process's peak RSS per phase (VmHWM reset
 * before each phase, cross-checked by sampling VmRSS); the target is under 100 MiB everywhere.
 *
 * Run: `npx tsx bench/memory.ts [--runtimes=node,node-dist,deno,bun,...] [--size=1024] [--slow=128]`
 * - `node` runs `node --import tsx lib/cli/main.ts` (the tsx loader adds ~30 MiB of its own);
 *   `node-dist` runs the CLI bundled to plain JS with esbuild (how the npm bin runs).
 * - `deno`, `bun` run the CLI with its default server (`auto`: node:http on Deno, Bun.serve on
 *   Bun); `deno+native` (Deno.serve), `bun+node` (node:http) pick the other one.
 * - `--size` is the blob size in MiB; `--slow` the slow client's read rate in MiB/s.
 *
 * The client (this process) streams the push with node:http in 1 MiB writes and verifies the
 * pulled bytes' sha256.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type IncomingMessage, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { watchPeakRss } from "./proc_stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const MiB = 1024 * 1024;
const LIMIT_MiB = 100;

function flag(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : fallback;
}

const runtimes = flag("runtimes", "node,node-dist,deno,deno+native,bun,bun+node").split(",");
const size = Number(flag("size", "1024")) * MiB;
const slowRate = Number(flag("slow", "128")) * MiB;

/** The pattern the client pushes: 1 MiB, repeated. */
const CHUNK = new Uint8Array(MiB).map((_, i) => (i * 7 + 3) % 251);

function expectedDigest(): string {
  const hash = createHash("sha256");
  for (let sent = 0; sent < size; sent += MiB) {
    hash.update(CHUNK.subarray(0, Math.min(MiB, size - sent)));
  }
  return `sha256:${hash.digest("hex")}`;
}

interface Server {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startServer(runtime: string, storageDir: string, bundle: string): Promise<Server> {
  const cli = join(ROOT, "lib", "cli", "main.ts");
  const args = ["--port", "0", "--storage", `fs:${storageDir}`];
  const tsx = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
  const commands: Record<string, [string, string[]]> = {
    "node": [process.execPath, ["--import", tsx, cli, ...args]],
    "node-dist": [process.execPath, [bundle, ...args]],
    "deno": [join(BIN, "deno"), [
      "run",
      "-A",
      "--v8-flags=--expose-gc,--max-semi-space-size=1",
      cli,
      ...args,
    ]],
    "bun": [join(BIN, "bun"), [cli, ...args]],
  };
  // `deno+native`, `bun+node`...: that runtime with `--server native|node`.
  const [base, kind] = runtime.split("+");
  const [cmd, baseArgv] = commands[base];
  const argv = kind ? [...baseArgv, "--server", kind] : baseArgv;
  // Request log lines are discarded: a 1 GiB transfer is a handful of requests.
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
  let errors = "";
  child.stderr!.on("data", (d: Uint8Array) => (errors += new TextDecoder().decode(d)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once(
      "exit",
      (code) => reject(new Error(`${runtime} exited (${code}): ${out} ${errors}`)),
    );
  });
  return {
    child,
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function call(
  port: number,
  method: string,
  path: string,
  body?: (req: import("node:http").ClientRequest) => Promise<void>,
  headers: Record<string, string> = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, resolve);
    req.on("error", reject);
    if (body) body(req).then(() => req.end(), reject);
    else req.end();
  });
}

async function drain(res: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of res) text += String(chunk);
  return text;
}

/** Push `size` bytes as one streamed (chunked) PATCH, then PUT: answers MB/s. */
async function push(port: number, name: string, digest: string): Promise<number> {
  const post = await call(port, "POST", `/v2/${name}/blobs/uploads/`);
  await drain(post);
  if (post.statusCode !== 202) throw new Error(`POST ${post.statusCode}`);
  const location = post.headers.location!;
  const started = performance.now();
  const patch = await call(port, "PATCH", location, async (req) => {
    for (let sent = 0; sent < size; sent += MiB) {
      const piece = CHUNK.subarray(0, Math.min(MiB, size - sent));
      if (!req.write(piece)) await new Promise((r) => req.once("drain", r));
    }
  }, { "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" });
  const patchText = await drain(patch);
  if (patch.statusCode !== 202) throw new Error(`PATCH ${patch.statusCode} ${patchText}`);
  const sep = patch.headers.location!.includes("?") ? "&" : "?";
  const put = await call(port, "PUT", `${patch.headers.location}${sep}digest=${digest}`);
  const putText = await drain(put);
  if (put.statusCode !== 201) throw new Error(`PUT ${put.statusCode} ${putText}`);
  return size / MiB / ((performance.now() - started) / 1000);
}

/** Pull the blob, verifying its digest; with `rate`, read at most that many bytes/s. */
async function pull(port: number, name: string, digest: string, rate?: number): Promise<number> {
  const started = performance.now();
  const res = await call(port, "GET", `/v2/${name}/blobs/${digest}`);
  if (res.statusCode !== 200) throw new Error(`GET ${res.statusCode} ${await drain(res)}`);
  const hash = createHash("sha256");
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    res.on("data", (chunk: Uint8Array) => {
      hash.update(chunk);
      got += chunk.byteLength;
      if (rate) {
        const ahead = got / rate * 1000 - (performance.now() - started);
        if (ahead > 5) {
          res.pause();
          setTimeout(() => res.resume(), ahead);
        }
      }
    });
    res.on("end", resolve);
    res.on("error", reject);
  });
  if (got !== size) throw new Error(`pulled ${got} bytes, expected ${size}`);
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== digest) throw new Error(`pulled digest ${actual}, expected ${digest}`);
  return size / MiB / ((performance.now() - started) / 1000);
}

interface Row {
  runtime: string;
  idle: number;
  push: number;
  pushRate: number;
  pull: number;
  pullRate: number;
  slow: number;
  slowRate: number;
}

async function measure(runtime: string, digest: string, bundle: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), `fetch-registry-memory-${runtime}-`));
  const server = await startServer(runtime, dir, bundle);
  const pid = server.child.pid!;
  try {
    const warm = await call(server.port, "GET", "/v2/");
    await drain(warm);
    const idleWatch = watchPeakRss([pid]);
    await new Promise((r) => setTimeout(r, 200));
    const idle = idleWatch.stop().peak;
    const pushWatch = watchPeakRss([pid]);
    const pushRate = await push(server.port, "bench/memory", digest);
    const pushPeak = pushWatch.stop().peak;
    const pullWatch = watchPeakRss([pid]);
    const pullRate = await pull(server.port, "bench/memory", digest);
    const pullPeak = pullWatch.stop().peak;
    const slowWatch = watchPeakRss([pid]);
    const slowPullRate = await pull(server.port, "bench/memory", digest, slowRate);
    const slowPeak = slowWatch.stop().peak;
    return {
      runtime,
      idle: idle / MiB,
      push: pushPeak / MiB,
      pushRate,
      pull: pullPeak / MiB,
      pullRate,
      slow: slowPeak / MiB,
      slowRate: slowPullRate,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bundleDir = mkdtempSync(join(tmpdir(), "fetch-registry-memory-bundle-"));
const bundle = join(bundleDir, "cli.mjs");
if (runtimes.includes("node-dist")) {
  await build({
    entryPoints: [join(ROOT, "lib", "cli", "main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: bundle,
    logLevel: "warning",
  });
}
const digest = expectedDigest();
console.log(
  `server peak RSS (MiB) during a ${size / MiB} MiB push, pull, and pull at ${
    slowRate / MiB
  } MiB/s; ` +
    `fs storage; target < ${LIMIT_MiB} MiB`,
);
console.log(
  "| runtime | idle | push | push MiB/s | pull | pull MiB/s | slow pull | slow MiB/s | < 100 MiB |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
let failed = 0;
for (const runtime of runtimes) {
  try {
    const r = await measure(runtime, digest, bundle);
    const ok = Math.max(r.push, r.pull, r.slow) < LIMIT_MiB;
    if (!ok) failed++;
    const f = (n: number) => n.toFixed(0);
    console.log(
      `| ${r.runtime} | ${f(r.idle)} | ${f(r.push)} | ${f(r.pushRate)} | ${f(r.pull)} | ` +
        `${f(r.pullRate)} | ${f(r.slow)} | ${f(r.slowRate)} | ${ok ? "yes" : "NO"} |`,
    );
  } catch (error) {
    failed++;
    console.log(`| ${runtime} | failed: ${(error as Error).message.split("\n")[0]} |`);
  }
}
rmSync(bundleDir, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
