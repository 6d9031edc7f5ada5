/**
 * What the metrics wrapper costs on manifest requests, in process, next to a bare
 * `createRegistry()`, in the same run, on whichever runtime runs it:
 *
 * ```sh
 * npx tsx bench/metrics_overhead.ts            # 7 rounds
 * deno run -A bench/metrics_overhead.ts --rounds 11
 * bun bench/metrics_overhead.ts
 * ```
 *
 * Variants, each with its own memory storage seeded the same way:
 * - `bare`: `createRegistry().fetch`;
 * - `bare (A/A)`: a second bare registry: its ratio to `bare` is the noise floor;
 * - `withMetrics`: the fetch wrapper alone (requests, latency, bytes, in-flight, health on);
 * - `withMetrics + storage`: plus `instrumentStorage` (every storage call timed);
 * - `withMetrics + storage + events`: plus the event observer making a distribution event per
 *   pull (handed to a no-op publish: delivery is off the request path).
 *
 * Requests: GET of a manifest by tag (body read) and HEAD of it. Interleaved rounds, the variant
 * order rotated per round; mitata's `measure` with process CPU time (the machine is shared). The
 * figure per pair is the median over rounds of mitata's per-request median, shown as requests per
 * CPU-second, and its ratio to `bare`. Prints a Markdown table.
 *
 * With `--socket`, the same comparison over HTTP: `bare`, `bare (A/A)` and `withMetrics + storage` (every metric
 * on; events are not metrics, and their cost is delivery's, off the request path) served side by
 * side on 127.0.0.1 by this runtime's server (lib/server/serve.ts), and bench/load.ts (on Node,
 * 32 connections, 1 s warm-up, `--seconds` measured, default 3) driving each in turn for
 * `--rounds` rounds (order alternated); median req/s per variant and the ratio. `--load-cpus 1`
 * runs the load generator under `taskset -c 1`; with the bench itself under `taskset -c 0`, server
 * and load each have a core:
 *
 * ```sh
 * taskset -c 0 npx tsx bench/metrics_overhead.ts --socket --load-cpus 1 --rounds 7 --seconds 3
 * ```
 *
 * @module
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { do_not_optimize, measure } from "mitata/src/lib.mjs";
import { createRegistry, type Registry } from "../lib/registry.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import { createSeeder, MEDIA_TYPES } from "../lib/testing/mod.ts";
import { createEventObserver } from "../lib/observe/events.ts";
import { createRegistryMetrics } from "../lib/observe/metrics.ts";
import { instrumentStorage } from "../lib/observe/storage_metrics.ts";
import { withMetrics } from "../lib/observe/with_metrics.ts";
import { serve } from "../lib/server/serve.ts";

type Fetch = (request: Request) => Promise<Response>;

const roundsArg = (() => {
  const i = process.argv.indexOf("--rounds");
  return i >= 0 ? Number(process.argv[i + 1]) : 7;
})();
const ROUNDS = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : 7;
const secondsArg = (() => {
  const i = process.argv.indexOf("--seconds");
  return i >= 0 ? Number(process.argv[i + 1]) : 3;
})();
/** `--load-cpus LIST`: run the load generator under `taskset -c LIST` (Linux), apart from the server. */
const loadCpus = (() => {
  const i = process.argv.indexOf("--load-cpus");
  return i >= 0 ? process.argv[i + 1] : undefined;
})();
const MIN_CPU_TIME_NS = 200e6;

function metered(how: "wrapper" | "storage" | "events"): Registry {
  const metrics = createRegistryMetrics({ memory: () => process.memoryUsage() });
  let published = 0;
  const observer = how === "events" ? createEventObserver(() => void published++) : undefined;
  const storage = how === "wrapper" ? memoryStorage() : instrumentStorage(memoryStorage(), metrics);
  return withMetrics(createRegistry({ storage, observer }), { metrics });
}

const VARIANTS: Array<[string, Registry]> = [
  ["bare", createRegistry()],
  ["bare (A/A)", createRegistry()],
  ["withMetrics", metered("wrapper")],
  ["withMetrics + storage", metered("storage")],
  ["withMetrics + storage + events", metered("events")],
];
for (const [, registry] of VARIANTS) {
  await createSeeder(registry).image("bench/app", { tag: "latest", layers: ["a layer"] });
}

const ORIGIN = "http://registry.test";
const manifest = `${ORIGIN}/v2/bench/app/manifests/latest`;
const accept = { Accept: MEDIA_TYPES.manifest };
const REQUESTS: Array<[string, () => Request]> = [
  ["GET manifest by tag", () => new Request(manifest, { headers: accept })],
  ["HEAD manifest by tag", () => new Request(manifest, { method: "HEAD", headers: accept })],
];

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Requests per mitata batch so that one batch takes about 40 ms of CPU (the clock ticks in ms). */
async function batchSize(fetch: Fetch, make: () => Request): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 300; i++) {
    const res = await fetch(make());
    if (res.body) await res.arrayBuffer();
  }
  const perRequestMs = (performance.now() - t0) / 300;
  return Math.min(65536, Math.max(64, Math.ceil(40 / perRequestMs)));
}
const runtime = "Bun" in globalThis
  ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `node ${process.version}`;

async function inProcess(): Promise<void> {
  const batch = new Map<string, number>();
  for (const [what, make] of REQUESTS) batch.set(what, await batchSize(VARIANTS[0][1].fetch, make));
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [what, make] of REQUESTS) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const [name, registry] = VARIANTS[(k + round) % VARIANTS.length];
        const stats = await measure(async () => {
          const res = await registry.fetch(make());
          do_not_optimize(res.body ? await res.arrayBuffer() : res.status);
        }, {
          min_cpu_time: MIN_CPU_TIME_NS,
          batch_samples: batch.get(what)!,
          min_samples: 8,
          now: cpuNow,
        });
        const key = `${what}|${name}`;
        samples.set(key, [...(samples.get(key) ?? []), stats.p50]);
      }
    }
  }
  console.log(`\n### ${runtime}: ${ROUNDS} rounds, in process, CPU time\n`);
  console.log("| request | variant | req/s per CPU-second | ratio to bare |");
  console.log("|---|---|---:|---:|");
  for (const [what] of REQUESTS) {
    const base = median(samples.get(`${what}|bare`)!);
    for (const [name] of VARIANTS) {
      const ns = median(samples.get(`${what}|${name}`)!);
      console.log(`| ${what} | ${name} | ${Math.round(1e9 / ns)} | ${(base / ns).toFixed(3)} |`);
    }
  }
}

/** One bench/load.ts run (on Node) against `url`: requests per second. */
function load(url: string, method: string): Promise<number> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const spec = JSON.stringify({
    url,
    method,
    connections: 32,
    seconds: secondsArg,
    warmupSeconds: 1,
    headers: accept,
  });
  return new Promise((resolve, reject) => {
    const argv = ["--import", "tsx", join(root, "bench", "load.ts"), spec];
    const [command, args] = loadCpus
      ? ["taskset", ["-c", loadCpus, "node", ...argv]]
      : ["node", argv];
    const child = spawn(command, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`bench/load.ts exited ${code}`));
      const r = JSON.parse(out) as { rps: number; nonOk: number; errors: number };
      if (r.nonOk + r.errors > 0) return reject(new Error(`load: ${out}`));
      resolve(r.rps);
    });
  });
}

async function overSocket(): Promise<void> {
  const served = [VARIANTS[0], VARIANTS[1], VARIANTS[3]];
  const servers = await Promise.all(
    served.map(([, registry]) =>
      serve((r) => registry.fetch(r), { hostname: "127.0.0.1", port: 0 })
    ),
  );
  const rps = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const method of ["GET", "HEAD"]) {
      for (let k = 0; k < served.length; k++) {
        const idx = (k + round) % served.length;
        const value = await load(`${servers[idx].url}/v2/bench/app/manifests/latest`, method);
        const key = `${method}|${served[idx][0]}`;
        rps.set(key, [...(rps.get(key) ?? []), value]);
      }
    }
  }
  for (const server of servers) await server.close();
  console.log(
    `\n### ${runtime}, over a socket: ${ROUNDS} rounds of ${secondsArg} s, 32 connections\n`,
  );
  console.log("| request | variant | req/s (median) | per round | ratio to bare |");
  console.log("|---|---|---:|---|---:|");
  for (const method of ["GET", "HEAD"]) {
    const base = median(rps.get(`${method}|bare`)!);
    for (const [name] of served) {
      const values = rps.get(`${method}|${name}`)!;
      const m = median(values);
      const each = values.map((v) => Math.round(v)).join(", ");
      console.log(
        `| ${method} manifest by tag | ${name} | ${Math.round(m)} | ${each} | ${
          (m / base).toFixed(3)
        } |`,
      );
    }
  }
}

if (process.argv.includes("--socket")) await overSocket();
else await inProcess();
