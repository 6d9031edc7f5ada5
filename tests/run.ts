/**
 * The test command (`npm test`): static checks, the build, the packed-tarball check, then every
 * `tests/*.test.ts` file on Node (through tsx), Deno and Bun, with one summary line at the end:
 * `N passed, N failed`, summed over everything.
 *
 * Each static check (tsc, deno check, deno lint, deno fmt --check, deno publish --dry-run), the
 * build and the pack check counts as one test. Each test file's uvu summary (Total / Passed /
 * Skipped) is parsed; a file that crashes, times out or exits non-zero without a summary counts as
 * one failure and its output is shown. A Ceph RGW is started for the S3 tests
 * (tests/support/ceph.sh) when S3_ENDPOINT is not set and radosgw is installed.
 *
 * Usage: `tsx tests/run.ts [options] [file filters...]`
 *   --runtimes=node,deno,bun   runtimes to run the test files on (env TEST_RUNTIMES)
 *   --parallel / --serial      run the runtimes side by side, or one after another (the default;
 *                              env TEST_PARALLEL=1 for parallel)
 *   --no-static                skip the type, lint and format checks
 *   --no-pack                  skip the build and the pack check
 *   --no-ceph                  do not start Ceph RGW
 *   --timeout=SECONDS          per-file timeout, default 600 (env TEST_TIMEOUT)
 *   --budget=SECONDS           total time budget, default 4500; files that would start after it are
 *                              failed as not run (env TEST_BUDGET)
 *   filters                    run only test files whose path contains one of them
 *
 * Test processes get TEST_RUNTIME=node|deno|bun (so tests sharing a service can keep apart),
 * NO_COLOR=1 and, when Ceph is up, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_BUCKET.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const STARTED = Date.now();

/** One runtime the test files run on. */
interface Runtime {
  /** Short name, also passed as TEST_RUNTIME. */
  name: string;
  /** The program and its arguments, for one test file. */
  command(file: string): [string, string[]];
}

const RUNTIMES: Runtime[] = [
  { name: "node", command: (f) => [process.execPath, ["--import", "tsx", f]] },
  { name: "deno", command: (f) => [join(BIN, "deno"), ["run", "-A", "--no-prompt", f]] },
  { name: "bun", command: (f) => [join(BIN, "bun"), ["--no-install", f]] },
];

/** What one test file, check or step produced. */
interface Outcome {
  passed: number;
  failed: number;
  skipped: number;
  /** Why it failed when the counts alone do not say (crash, timeout, exit code). */
  note: string;
  output: string;
  ms: number;
}

/** The command line, parsed. */
interface Options {
  runtimes: Runtime[];
  parallel: boolean;
  static: boolean;
  pack: boolean;
  ceph: boolean;
  timeoutMs: number;
  deadline: number;
  filters: string[];
}

function parseOptions(argv: string[]): Options {
  const env = process.env;
  let runtimeNames = (env.TEST_RUNTIMES ?? "node,deno,bun").split(",");
  // Serial by default: on 2 cores, parallel runtimes saved ~1/3 of the wall time (155 s against
  // 231 s) but made timing-sensitive tests (expiry, crash, slow clients) race each other.
  let parallel = env.TEST_PARALLEL === "1";
  let timeout = Number(env.TEST_TIMEOUT ?? 600);
  let budget = Number(env.TEST_BUDGET ?? 4500);
  const options = { static: true, pack: true, ceph: true };
  const filters: string[] = [];
  for (const arg of argv) {
    const [key, value] = arg.split("=", 2);
    if (key === "--runtimes") runtimeNames = (value ?? "").split(",");
    else if (key === "--parallel") parallel = true;
    else if (key === "--serial") parallel = false;
    else if (key === "--no-static") options.static = false;
    else if (key === "--no-pack") options.pack = false;
    else if (key === "--no-ceph") options.ceph = false;
    else if (key === "--timeout") timeout = Number(value);
    else if (key === "--budget") budget = Number(value);
    else if (arg.startsWith("-")) {
      console.error(`unknown option ${arg}`);
      process.exit(2);
    } else filters.push(arg);
  }
  const runtimes = runtimeNames.filter(Boolean).map((n) => {
    const rt = RUNTIMES.find((r) => r.name === n.trim());
    if (!rt) {
      console.error(`unknown runtime ${n}; known: ${RUNTIMES.map((r) => r.name).join(", ")}`);
      process.exit(2);
    }
    return rt;
  });
  return {
    runtimes,
    parallel,
    ...options,
    timeoutMs: timeout * 1000,
    deadline: STARTED + budget * 1000,
    filters,
  };
}

const COLOR_FREE_ENV = {
  NO_COLOR: "1",
  FORCE_COLOR: "0",
  DENO_NO_UPDATE_CHECK: "1",
  DO_NOT_TRACK: "1",
  RUST_BACKTRACE: "0",
};

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Kills a detached child's whole process group, ignoring one that is already gone. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Children still running, killed if the runner itself is interrupted. */
const live = new Set<ChildProcess>();

interface RunOptions {
  env?: Record<string, string>;
  timeoutMs: number;
  /** Once the output matches this, the process gets `graceMs` more to exit before it is killed. */
  doneWhen?: RegExp;
  graceMs?: number;
  /** Leave the process group alone on exit (daemons started by it must live on). */
  keepGroup?: boolean;
}

interface Exit {
  code: number | null;
  signal: string | null;
  output: string;
  timedOut: boolean;
  hungAfterDone: boolean;
  ms: number;
}

/** Runs a program in its own process group with combined stdout+stderr; never rejects. */
function runProcess(cmd: string, args: string[], options: RunOptions): Promise<Exit> {
  const started = Date.now();
  return new Promise((done) => {
    let output = "";
    let timedOut = false;
    let hungAfterDone = false;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        cwd: ROOT,
        env: { ...process.env, ...COLOR_FREE_ENV, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
    } catch (error) {
      done({
        code: null,
        signal: null,
        output: String(error),
        timedOut: false,
        hungAfterDone: false,
        ms: 0,
      });
      return;
    }
    live.add(child);
    const stop = (why: "timeout" | "hung") => {
      if (why === "timeout") timedOut = true;
      else hungAfterDone = true;
      killGroup(child, "SIGTERM");
      setTimeout(() => killGroup(child, "SIGKILL"), 5000).unref();
    };
    const timer = setTimeout(() => stop("timeout"), Math.max(options.timeoutMs, 1000));
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (options.doneWhen && !graceTimer && options.doneWhen.test(output.replace(ANSI, ""))) {
        graceTimer = setTimeout(() => stop("hung"), options.graceMs ?? 15_000);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("error", (error) => {
      output += `\n${error}\n`;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      live.delete(child);
      // Anything the file left running (servers, helpers) goes with it.
      if (!options.keepGroup) killGroup(child, "SIGKILL");
      done({
        code,
        signal,
        output: output.replace(ANSI, ""),
        timedOut,
        hungAfterDone,
        ms: Date.now() - started,
      });
    });
  });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    for (const child of live) killGroup(child, "SIGKILL");
    stopCeph();
    process.exit(130);
  });
}

/** A check (type check, lint, build...) counts as one test: passed or failed by its exit code. */
async function check(name: string, cmd: string, args: string[]): Promise<[string, Outcome]> {
  const exit = await runProcess(cmd, args, { timeoutMs: 600_000 });
  const ok = exit.code === 0;
  const note = ok ? "" : exit.timedOut ? "timed out" : `exit ${exit.code ?? exit.signal}`;
  const outcome = {
    passed: ok ? 1 : 0,
    failed: ok ? 0 : 1,
    skipped: 0,
    note,
    output: exit.output,
    ms: exit.ms,
  };
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${seconds(exit.ms)})${note ? ` ${note}` : ""}`);
  return [name, outcome];
}

function notRun(note: string): Outcome {
  return { passed: 0, failed: 1, skipped: 0, note, output: "", ms: 0 };
}

const SUMMARY = /^\s*Total:\s+(\d+)\s*\n\s*Passed:\s+(\d+)\s*\n\s*Skipped:\s+(\d+)\s*$/gm;

/** Turns a test file's exit and output into counts. */
function judge(exit: Exit): Outcome {
  let total = 0, passed = 0, skipped = 0, summaries = 0;
  for (const m of exit.output.matchAll(SUMMARY)) {
    total += Number(m[1]);
    passed += Number(m[2]);
    skipped += Number(m[3]);
    summaries++;
  }
  const base = { skipped, output: exit.output, ms: exit.ms };
  if (summaries === 0) {
    const why = exit.timedOut
      ? "timed out without a summary"
      : exit.code === 0
      ? "exited 0 without a uvu summary"
      : `crashed (exit ${exit.code ?? exit.signal}) without a summary`;
    return { ...base, passed: 0, failed: 1, note: why };
  }
  let failed = total - passed;
  const notes: string[] = [];
  if (total === 0) {
    failed += 1;
    notes.push("ran no tests");
  }
  if (exit.timedOut) {
    failed += 1;
    notes.push("timed out after its summary");
  } else if (exit.hungAfterDone) {
    failed += 1;
    notes.push("did not exit after its summary (open handles?)");
  } else if (exit.code !== 0 && failed === 0) {
    failed += 1;
    notes.push(`exit ${exit.code ?? exit.signal} although every test passed`);
  }
  return { ...base, passed, failed, note: notes.join("; ") };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Whether a test file may talk to S3 (it then waits for Ceph to be up). */
function needsS3(file: string): boolean {
  return /s3/i.test(readFileSync(join(ROOT, file), "utf8"));
}

/**
 * Runs every file on one runtime, one file at a time: first the files that do not need S3, then
 * (once `s3Env` resolves, i.e. Ceph is up or known to be absent) those that do.
 */
async function runRuntime(
  runtime: Runtime,
  files: string[],
  options: Options,
  s3Env: () => Promise<Record<string, string>>,
): Promise<Map<string, Outcome>> {
  const results = new Map<string, Outcome>();
  const ordered = [...files.filter((f) => !needsS3(f)), ...files.filter(needsS3)];
  for (const file of ordered) {
    const env = needsS3(file) ? await s3Env() : {};
    const remaining = options.deadline - Date.now();
    if (remaining < 5000) {
      results.set(file, notRun("not run: the time budget was used up"));
      console.log(`FAIL [${runtime.name}] ${file}: not run, time budget used up`);
      continue;
    }
    const [cmd, args] = runtime.command(file);
    const exit = await runProcess(cmd, args, {
      env: { ...env, TEST_RUNTIME: runtime.name },
      timeoutMs: Math.min(options.timeoutMs, remaining),
      doneWhen: /^\s*Duration:\s+\S+\s*$/m,
      graceMs: 15_000,
    });
    const outcome = judge(exit);
    results.set(file, outcome);
    const status = outcome.failed ? "FAIL" : "ok  ";
    const skipped = outcome.skipped ? `, ${outcome.skipped} skipped` : "";
    console.log(
      `${status} [${runtime.name}] ${file}: ${outcome.passed} passed, ${outcome.failed} failed` +
        `${skipped} (${seconds(outcome.ms)})${outcome.note ? ` ${outcome.note}` : ""}`,
    );
  }
  return results;
}

// ---- Ceph RGW for the S3 tests ----

let cephDir: string | undefined;
let cephPorts: Record<string, string> = {};

/** Whether nothing listens on these 127.0.0.1 ports. */
async function portsFree(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const free = await new Promise<boolean>((done) => {
      const server = createServer();
      server.once("error", () => done(false));
      server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
    });
    if (!free) return false;
  }
  return true;
}

/** Starts Ceph RGW through tests/support/ceph.sh; returns the S3_* variables, or a reason. */
async function startCeph(options: Options): Promise<Record<string, string> | string> {
  if (process.env.S3_ENDPOINT) return "S3_ENDPOINT is set: using it";
  if (!options.ceph) return "--no-ceph";
  const script = join(ROOT, "tests", "support", "ceph.sh");
  if (!existsSync(script)) return "tests/support/ceph.sh does not exist";
  if (spawnSync("sh", ["-c", "command -v radosgw"]).status !== 0) {
    return "radosgw is not installed (apt-get install radosgw ceph-mon ceph-osd)";
  }
  // Ports of our own, so that a cluster a developer left running on the defaults does not clash.
  let base = 0;
  for (let b = 9100; b <= 9900 && !base; b += 100) {
    if (await portsFree([b + 1, b + 10, b + 20, b + 21, b + 22])) base = b;
  }
  if (!base) return "no free ports for Ceph between 9100 and 9999";
  cephPorts = {
    RGW_PORT: String(base + 1),
    MON_PORT: String(base + 10),
    MS_MIN: String(base + 20),
    MS_MAX: String(base + 59),
  };
  const dir = mkdtempSync(join(tmpdir(), "fetch-registry-ceph-"));
  cephDir = dir;
  const exit = await runProcess("bash", [script, "start", dir], {
    env: cephPorts,
    timeoutMs: 180_000,
    keepGroup: true,
  });
  const vars: Record<string, string> = {};
  for (const m of exit.output.matchAll(/^export (S3_[A-Z_]+)=(.*)$/gm)) vars[m[1]] = m[2];
  if (exit.code !== 0 || !vars.S3_ENDPOINT) {
    stopCeph();
    return `ceph.sh start failed (exit ${exit.code ?? exit.signal}):\n${exit.output}`;
  }
  return vars;
}

function stopCeph(): void {
  if (!cephDir) return;
  const dir = cephDir;
  cephDir = undefined;
  spawnSync("bash", [join(ROOT, "tests", "support", "ceph.sh"), "stop", dir], {
    env: { ...process.env, ...cephPorts },
    stdio: "ignore",
    timeout: 60_000,
  });
  rmSync(dir, { recursive: true, force: true });
}

// ---- main ----

function testFiles(filters: string[]): string[] {
  const dir = join(ROOT, "tests");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `tests/${f}`)
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
}

/** Directories and files `deno check` should see (it refuses a directory with no TS in it). */
function denoCheckTargets(): string[] {
  const hasTs = (dir: string): boolean =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).some((e) =>
      e.isDirectory() ? hasTs(`${dir}/${e.name}`) : /\.m?ts$/.test(e.name)
    );
  return [
    "mod.ts",
    ...["lib", "tests", "bench"].filter((d) => existsSync(join(ROOT, d)) && hasTs(d)),
  ];
}

function showOutput(title: string, outcome: Outcome): void {
  const lines = outcome.output.trimEnd().split("\n");
  const max = 400;
  console.log(`\n===== ${title}: ${outcome.note || `${outcome.failed} failed`} =====`);
  if (lines.length > max) console.log(`... (${lines.length - max} earlier lines not shown)`);
  console.log(lines.slice(-max).join("\n"));
}

function cell(outcome: Outcome | undefined): string {
  if (!outcome) return "-";
  const skipped = outcome.skipped ? ` (${outcome.skipped} skip)` : "";
  if (outcome.failed === 0) return `ok ${outcome.passed}${skipped}`;
  const labels: [RegExp, string][] = [
    [/not run/, "NOT RUN"],
    [/timed out/, "TIMEOUT"],
    [/without a summary/, "CRASH"],
    [/ran no tests/, "NO TESTS"],
    [/did not exit/, "HUNG"],
    [/although every test passed/, "EXIT CODE"],
  ];
  const label = labels.find(([re]) => re.test(outcome.note))?.[1];
  if (label) return `${label}${outcome.passed ? ` (${outcome.passed} ok)` : ""}${skipped}`;
  return `FAIL ${outcome.passed}/${outcome.passed + outcome.failed}${skipped}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const files = testFiles(options.filters);
  const checks: [string, Outcome][] = [];

  // Ceph takes ~15 s to start: do it while the static checks run.
  const ceph = files.some(needsS3)
    ? startCeph(options)
    : Promise.resolve("no test file needs S3: Ceph not started");

  if (options.static) {
    checks.push(await check("tsc --noEmit -p .", join(BIN, "tsc"), ["--noEmit", "-p", "."]));
    const targets = denoCheckTargets();
    checks.push(
      await check(`deno check ${targets.join(" ")}`, join(BIN, "deno"), ["check", ...targets]),
    );
    checks.push(await check("deno lint", join(BIN, "deno"), ["lint"]));
    checks.push(await check("deno fmt --check", join(BIN, "deno"), ["fmt", "--check"]));
    // JSR's checks (slow types: explicit types on every export; what would be published), ~7 s.
    checks.push(
      await check("deno publish --dry-run", join(BIN, "deno"), [
        "publish",
        "--dry-run",
        "--allow-dirty",
      ]),
    );
  }
  if (options.pack) {
    const build = await check("npm run build", "npm", ["run", "build"]);
    checks.push(build);
    if (build[1].failed) checks.push(["pack check", notRun("not run: the build failed")]);
    else {
      checks.push(
        await check(
          "pack check (npm pack, install, plain node import, push/pull)",
          process.execPath,
          [
            join(ROOT, "tests", "support", "pack_check.mjs"),
          ],
        ),
      );
    }
  }

  let s3: Promise<Record<string, string>> | undefined;
  const s3Env = () =>
    s3 ??= ceph.then((result) => {
      if (typeof result === "string") {
        console.log(`S3: ${result}`);
        return {};
      }
      console.log(`S3: Ceph RGW up at ${result.S3_ENDPOINT} for the S3 tests`);
      return result;
    });

  if (files.length === 0) console.log("no tests/*.test.ts files found");
  console.log(
    `running ${files.length} test files on ${options.runtimes.map((r) => r.name).join(", ")}` +
      ` (${options.parallel ? "runtimes in parallel" : "one runtime at a time"})`,
  );
  const perRuntime = new Map<string, Map<string, Outcome>>();
  try {
    if (options.parallel) {
      const all = await Promise.all(
        options.runtimes.map((rt) => runRuntime(rt, files, options, s3Env)),
      );
      options.runtimes.forEach((rt, i) => perRuntime.set(rt.name, all[i]));
    } else {
      for (const rt of options.runtimes) {
        perRuntime.set(rt.name, await runRuntime(rt, files, options, s3Env));
      }
    }
  } finally {
    await s3Env(); // report how Ceph fared even when no file needed it
    stopCeph();
  }

  // Output of everything that failed.
  for (const [name, outcome] of checks) if (outcome.failed) showOutput(name, outcome);
  for (const rt of options.runtimes) {
    for (const [file, outcome] of perRuntime.get(rt.name) ?? []) {
      if (outcome.failed) showOutput(`[${rt.name}] ${file}`, outcome);
    }
  }

  // Tables.
  let passed = 0, failed = 0, skipped = 0;
  const add = (o: Outcome) => {
    passed += o.passed;
    failed += o.failed;
    skipped += o.skipped;
  };
  if (checks.length) console.log("\nChecks");
  if (checks.length) {
    console.log(
      table(
        ["check", "result", "time"],
        checks.map(([name, o]) => {
          add(o);
          return [name, o.failed ? `FAIL${o.note ? ` (${o.note})` : ""}` : "ok", seconds(o.ms)];
        }),
      ),
    );
  }
  const names = options.runtimes.map((r) => r.name);
  const rows = files.map((file) => [
    file,
    ...names.map((n) => {
      const o = perRuntime.get(n)?.get(file);
      if (o) add(o);
      return cell(o);
    }),
  ]);
  const totals = names.map((n) => {
    let p = 0, f = 0;
    for (const o of perRuntime.get(n)?.values() ?? []) {
      p += o.passed;
      f += o.failed;
    }
    return `${p} passed, ${f} failed`;
  });
  console.log("\nTest files (uvu tests passed per file and runtime)");
  console.log(table(["file", ...names], [...rows, ["total", ...totals]]));
  if (skipped) console.log(`\n${skipped} tests skipped (see the table)`);
  console.log(`\nwall time ${seconds(Date.now() - STARTED)}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    for (const child of live) killGroup(child, "SIGKILL");
    stopCeph();
    console.error(error);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
