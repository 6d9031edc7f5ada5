/**
 * `npm run bench`: fetch-registry (fs storage) on Node, Deno and Bun side by side with CNCF
 * distribution, every figure of issue 4 in the same run, a table with ratios to distribution,
 * written also to bench/results/latest.md (and the raw values to latest.json). Installs nothing:
 * a missing docker-registry is reported with its install command and its column skipped.
 *
 * ```sh
 * npm run bench                          # 3 runs of everything, then the microbenchmarks
 * npm run bench -- --runs 5 --pin        # more runs; servers on CPU 0, load generators on CPU 1
 * npm run bench -- --quick               # small sizes, 1 run: checks the harness in ~1 minute
 * npm run bench -- --targets distribution,bun --no-micro
 * npm run bench -- --micro-only
 * FETCH_REGISTRY_BENCH_ALT=.tmp/patched/lib/cli/main.ts npm run bench -- --targets node,node-alt
 *                                        # before/after: a patched copy as extra columns
 * ```
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ClientProcess, runCommand } from "./drivers.ts";
import {
  type BenchSettings,
  FIGURES,
  setup,
  type Step,
  type StepEnv,
  STEPS,
  warmUp,
} from "./figures.ts";
import { loadAverage, machineInfo } from "./machine.ts";
import {
  type Failures,
  median,
  type MicroResult,
  renderReport,
  type ReportData,
  type Values,
} from "./report.ts";
import {
  DEFAULT_TARGETS,
  ROOT,
  type RunningTarget,
  startTarget,
  tail,
  TARGETS,
} from "./targets.ts";

const MIB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    targets: { type: "string", default: DEFAULT_TARGETS.join(",") },
    "size-mib": { type: "string", default: "256" },
    "big-mib": { type: "string", default: "1024" },
    "chunk-mib": { type: "string", default: "8" },
    tags: { type: "string", default: "10000" },
    connections: { type: "string", default: "32" },
    seconds: { type: "string", default: "5" },
    "range-count": { type: "string", default: "50" },
    steps: { type: "string" },
    pin: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    "no-micro": { type: "boolean", default: false },
    "micro-only": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results", "latest") },
    help: { type: "boolean", default: false },
  },
});

if (args.help) {
  console.log(
    `usage: npm run bench -- [--runs N] [--targets distribution,node,deno,bun,node-tsx] [--pin] [--quick]
  [--size-mib 256] [--big-mib 1024] [--chunk-mib 8] [--tags 10000] [--connections 32] [--seconds 5]
  [--range-count 50] [--steps id,id] [--no-micro | --micro-only] [--keep] [--out bench/results/latest]`,
  );
  process.exit(0);
}

const quick = args.quick;
const runs = quick ? 1 : Number(args.runs);
const settings: BenchSettings = {
  size: (quick ? 32 : Number(args["size-mib"])) * MIB,
  big: (quick ? 128 : Number(args["big-mib"])) * MIB,
  chunk: Number(args["chunk-mib"]) * MIB,
  tags: quick ? 1000 : Number(args.tags),
  connections: Number(args.connections),
  seconds: quick ? 2 : Number(args.seconds),
  rangeCount: quick ? 20 : Number(args["range-count"]),
  clientCpus: args.pin ? "1" : undefined,
};
const serverCpus = args.pin ? "0" : undefined;
const command = `npm run bench${
  process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""
}`;

function log(line: string): void {
  process.stderr.write(line + "\n");
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Run bench/micro.ts on every runtime, each in its own process. */
async function runMicro(): Promise<MicroResult[]> {
  const bin = join(ROOT, "node_modules", ".bin");
  const file = join(ROOT, "bench", "micro.ts");
  const commands: Array<[string, string, string[]]> = [
    ["node", process.execPath, ["--import", "tsx", file, "--json"]],
    ["deno", join(bin, "deno"), ["run", "-A", file, "--json"]],
    ["bun", join(bin, "bun"), [file, "--json"]],
  ];
  const out: MicroResult[] = [];
  for (const [name, cmd, argv] of commands) {
    log(`micro: ${name}…`);
    try {
      const text = await runCommand(cmd, argv, { timeoutMs: 300_000 });
      out.push(JSON.parse(text.trim().split("\n").pop() as string) as MicroResult);
    } catch (error) {
      out.push({
        runtime: name,
        results: [{ name: "bench/micro.ts", error: (error as Error).message }],
      });
    }
  }
  return out;
}

const machine = machineInfo();
const values: Values = {};
const failures: Failures = {};
const skipped: Record<string, string> = {};
const notes: string[] = [];
const servers: RunningTarget[] = [];
let tmp: string | undefined;
let client: ClientProcess | undefined;

function record(figure: string, server: string, value: number): void {
  ((values[figure] ??= {})[server] ??= []).push(value);
}

function fail(figures: readonly string[], server: string, message: string): void {
  for (const figure of figures) ((failures[figure] ??= {})[server] ??= []).push(message);
}

async function cleanup(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.stop().catch(() => {})));
  await client?.close();
  client = undefined;
  if (tmp && !args.keep) rmSync(tmp, { recursive: true, force: true });
}

process.on("SIGINT", () => {
  log("interrupted: stopping servers");
  void cleanup().then(() => process.exit(130));
});

/** The figure ids a step produces (for marking all of them failed). */
function producedBy(step: Step): string[] {
  const own = FIGURES.filter((f) => f.id === step.id || f.id.startsWith(`${step.id}_`)).map((f) =>
    f.id
  );
  const extra: Record<string, string[]> = {
    tags_list: ["tags_requests"],
    big_push: ["rss_idle", "cpu_push", "rss_push"],
    big_pull: ["cpu_pull", "rss_pull"],
  };
  return [...new Set([...own, ...(extra[step.id] ?? [])])];
}

async function measure(): Promise<void> {
  const missingTools = ["curl", "wrk", "taskset"].filter((t) =>
    !hasCommand(t) && (t !== "taskset" || args.pin)
  );
  if (missingTools.length > 0) {
    throw new Error(
      `missing: ${missingTools.join(", ")}; install with \`sudo apt-get install ${
        missingTools.map((t) => (t === "taskset" ? "util-linux" : t)).join(" ")
      }\``,
    );
  }
  const wanted = args.targets.split(",").map((s) => s.trim()).filter(Boolean);
  const targets = TARGETS.filter((t) => wanted.includes(t.id));
  tmp = mkdtempSync(join(os.tmpdir(), "fetch-registry-bench-"));
  log(
    `bench: ${runs} run(s), blobs ${settings.size / MIB} MiB, large ${settings.big / MIB} MiB, ` +
      `${settings.tags} tags, ${settings.connections} connections × ${settings.seconds} s; data in ${tmp}`,
  );
  for (const target of targets) {
    const why = target.unavailable();
    if (why) {
      skipped[target.id] = why;
      log(`skipping ${target.id}: ${why}`);
      continue;
    }
    try {
      const server = await startTarget(target, join(tmp, target.id), serverCpus);
      servers.push(server);
      log(`${target.id}: ${server.base} (pid ${server.pid}, ${target.version()})`);
    } catch (error) {
      skipped[target.id] = `failed to start: ${(error as Error).message}`;
      log(`${target.id} failed to start: ${(error as Error).message}`);
    }
  }
  if (servers.length === 0) return;
  client = new ClientProcess(settings.clientCpus);
  const envs = new Map<string, StepEnv>();
  const stepFilter = args.steps?.split(",");
  const steps = STEPS.filter((s) => !stepFilter || stepFilter.includes(s.id));
  const needsSetup = steps.some((s) =>
    ["head_tag", "get_tag", "get_digest", "tags_list"].includes(s.id)
  );
  const needsWarmUp = steps.some((s) => s.id.startsWith("push_"));
  for (const server of [...servers]) {
    const env: StepEnv = { server, client, settings, state: {} };
    envs.set(server.target.id, env);
    if (needsWarmUp) {
      try {
        await warmUp(env);
      } catch (error) {
        log(`${server.target.id}: warm-up failed: ${(error as Error).message}`);
      }
    }
    if (!needsSetup) continue;
    const t0 = performance.now();
    try {
      await setup(env);
      log(
        `${server.target.id}: setup (image + ${settings.tags} tags) in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
    } catch (error) {
      log(`${server.target.id}: setup failed: ${(error as Error).message}\n${tail(server.log, 5)}`);
      fail(
        ["head_tag", "get_tag", "get_digest", "tags_list"],
        server.target.id,
        `setup: ${(error as Error).message}`,
      );
    }
  }
  const runStep = async (round: number, step: Step, server: RunningTarget, env: StepEnv) => {
    const id = server.target.id;
    try {
      const result = await step.run(env);
      for (const [figure, value] of Object.entries(result)) record(figure, id, value);
      log(
        `[${round + 1}/${runs}] ${step.id.padEnd(13)} ${id.padEnd(12)} ` +
          Object.entries(result).map(([k, v]) => `${k}=${v.toFixed(v < 10 ? 2 : 0)}`).join(" "),
      );
    } catch (error) {
      const message = (error as Error).message;
      fail(producedBy(step), id, message);
      log(`[${round + 1}/${runs}] ${step.id.padEnd(13)} ${id.padEnd(12)} FAILED: ${message}`);
      if (tail(server.log, 3).trim()) log(`  server log: ${tail(server.log, 3)}`);
    }
  };
  for (let round = 0; round < runs; round++) {
    // Rotate the server order each round so no server is always first after a heavy step.
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const step of steps.filter((s) => !s.fresh)) {
      for (const server of order) {
        await runStep(round, step, server, envs.get(server.target.id) as StepEnv);
      }
    }
    // The memory and CPU figures of the large transfers: a fresh server each, so what earlier
    // steps left in its heap does not count.
    const freshSteps = steps.filter((s) => s.fresh);
    if (freshSteps.length === 0) continue;
    const fresh: Array<[RunningTarget, StepEnv]> = [];
    for (const server of order) {
      try {
        const f = await startTarget(
          server.target,
          join(tmp, `${server.target.id}-fresh-${round}`),
          serverCpus,
        );
        fresh.push([f, { server: f, client, settings, state: {} }]);
      } catch (error) {
        for (const step of freshSteps) {
          fail(producedBy(step), server.target.id, (error as Error).message);
        }
      }
    }
    try {
      for (const step of freshSteps) {
        for (const [f, env] of fresh) await runStep(round, step, f, env);
      }
    } finally {
      for (const [f] of fresh) {
        await f.stop();
        rmSync(f.dir, { recursive: true, force: true });
      }
    }
  }
  for (const [id, env] of envs) {
    if (env.state.tagsUnordered) notes.push(`${id} listed the tags out of lexical order.`);
  }
  const requests = values.tags_requests?.distribution;
  if (requests && median(requests) === 1) {
    notes.push(
      "distribution 2.8 ignores `n` on the tags list and answers every tag in one response (pagination came in distribution 3).",
    );
  }
}

let micro: MicroResult[] = [];
try {
  if (!args["micro-only"]) await measure();
} catch (error) {
  log(`bench failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
if (!args["no-micro"]) micro = await runMicro();

const data: ReportData = {
  machine,
  loadAverageEnd: loadAverage(),
  settings: { ...settings, runs, pinned: args.pin },
  command,
  servers: TARGETS.map((t) => t.id).filter((id) =>
    Object.values(values).some((v) => v[id]) || Object.values(failures).some((f) => f[id])
  ),
  skipped,
  values,
  failures,
  micro,
  notes,
};
const markdown = renderReport(data, FIGURES);
console.log(markdown);
mkdirSync(join(args.out, ".."), { recursive: true });
writeFileSync(`${args.out}.md`, markdown);
writeFileSync(`${args.out}.json`, JSON.stringify(data, null, 2) + "\n");
log(`written: ${args.out}.md, ${args.out}.json`);
