/**
 * What the testing toolkit costs per request when no fault rule is set, next to a bare
 * `createRegistry()`, measured with mitata on whichever runtime runs it:
 *
 * ```sh
 * npx tsx bench/toolkit_overhead.ts            # 7 rounds
 * deno run -A bench/toolkit_overhead.ts --rounds 11
 * bun bench/toolkit_overhead.ts
 * ```
 *
 * Three in-process requests (GET /v2/, HEAD of a blob, GET of a manifest with its body read), each
 * against four handlers, every one with its own memory storage seeded the same way:
 * - `bare`: `createRegistry().fetch`;
 * - `bare (A/A)`: a second bare registry: its ratio to `bare` is the noise floor;
 * - `toolkit, no recording`: `createTestRegistry({ record: false }).fetch`, no rule set;
 * - `toolkit, recording`: `createTestRegistry().fetch` (the default), no rule set.
 *
 * The machine is shared, so the variants are interleaved: each round measures every (request,
 * variant) pair once with mitata's `measure` (at least 0.15 s of CPU in batches of ~40 ms, the
 * variant order rotated per round). Time is the process's CPU time (`process.cpuUsage()`), not
 * wall time, so other processes on the machine count less. The figure per pair is the median over
 * rounds of mitata's per-request median; each ratio is that figure over `bare`'s. A ratio within
 * the A/A ratio's distance from 1.00 is no measurable cost.
 *
 * Then the wrappers alone (fault injection with no rule; recording plus fault injection) around
 * a handler that does nothing, interleaved the same way: their own cost in nanoseconds per call
 * (wall time, far below the CPU clock's resolution; the fastest of mitata's batches, which
 * other processes cannot make faster), and that as a share of a bare GET /v2/.
 *
 * @module
 */
import process from "node:process";
import { do_not_optimize, measure } from "mitata/src/lib.mjs";
import { createRegistry } from "../lib/registry.ts";
import {
  createFaults,
  createRecorder,
  createSeeder,
  createTestRegistry,
  MEDIA_TYPES,
} from "../lib/testing/mod.ts";

type Fetch = (request: Request) => Promise<Response>;

const roundsArg = (() => {
  const i = process.argv.indexOf("--rounds");
  return i >= 0 ? Number(process.argv[i + 1]) : 7;
})();
const ROUNDS = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : 7;
const MIN_CPU_TIME_NS = 150e6;

const bare = createRegistry();
const bareAgain = createRegistry();
const quiet = createTestRegistry({ record: false });
const recording = createTestRegistry();
let layer = "";
for (const target of [bare, bareAgain, quiet.registry, recording.registry]) {
  const image = await createSeeder(target).image("bench/app", {
    tag: "latest",
    layers: ["a layer"],
  });
  layer = image.layers[0].digest;
}

const VARIANTS: Array<[string, Fetch]> = [
  ["bare", bare.fetch],
  ["bare (A/A)", bareAgain.fetch],
  ["toolkit, no recording", quiet.fetch],
  ["toolkit, recording", (request) => recording.fetch(request)],
];

const ORIGIN = "http://registry.test";
const REQUESTS: Array<[string, () => Request]> = [
  ["GET /v2/", () => new Request(`${ORIGIN}/v2/`)],
  ["HEAD blob", () => new Request(`${ORIGIN}/v2/bench/app/blobs/${layer}`, { method: "HEAD" })],
  [
    "GET manifest",
    () =>
      new Request(`${ORIGIN}/v2/bench/app/manifests/latest`, {
        headers: { Accept: MEDIA_TYPES.manifest },
      }),
  ],
];

/** Process CPU time in nanoseconds: on a machine shared with other work, wall time measures the neighbours. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Requests per mitata batch for `make`, so that one batch takes about 40 ms: the CPU clock
 * (getrusage) ticks in milliseconds, so a batch must be long for its time to mean anything.
 */
async function batchSize(make: () => Request): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 300; i++) {
    const res = await bare.fetch(make());
    if (res.body) await res.arrayBuffer();
  }
  const perRequestMs = (performance.now() - t0) / 300;
  return Math.min(65536, Math.max(64, Math.ceil(40 / perRequestMs)));
}
const BATCH = new Map<string, number>();
for (const [what, make] of REQUESTS) BATCH.set(what, await batchSize(make));

const samples = new Map<string, number[]>();
const runtime = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : `node ${process.version}`;
console.log(
  `toolkit overhead, ${runtime}: ${ROUNDS} rounds, mitata measure >= ${
    MIN_CPU_TIME_NS / 1e6
  } ms CPU per pair`,
);
for (let round = 0; round < ROUNDS; round++) {
  for (const [what, make] of REQUESTS) {
    for (let k = 0; k < VARIANTS.length; k++) {
      const [name, fetch] = VARIANTS[(k + round) % VARIANTS.length];
      const stats = await measure(async () => {
        const res = await fetch(make());
        do_not_optimize(res.body ? await res.arrayBuffer() : res.status);
      }, {
        min_cpu_time: MIN_CPU_TIME_NS,
        batch_samples: BATCH.get(what)!,
        min_samples: 8,
        now: cpuNow,
      });
      const key = `${what}|${name}`;
      samples.set(key, [...(samples.get(key) ?? []), stats.p50]);
    }
  }
  // The recording variant keeps every request (up to 10000): clear it as a test's reset would.
  recording.requests.clear();
}

console.log("\nrequest        | variant                 | µs CPU/request (median) | ratio to bare");
for (const [what] of REQUESTS) {
  const base = median(samples.get(`${what}|bare`)!);
  for (const [name] of VARIANTS) {
    const value = median(samples.get(`${what}|${name}`)!);
    console.log(
      `${what.padEnd(14)} | ${name.padEnd(23)} | ${(value / 1000).toFixed(2).padStart(23)} | ${
        (value / base).toFixed(3).padStart(13)
      }`,
    );
  }
}

// Part 2: the wrappers alone, around a handler that does nothing, so their cost is not hidden in
// the registry's: nanoseconds per call, and that as a share of a bare GET /v2/ above.
const noopResponse = new Response(null, { status: 204 });
const noop: Fetch = () => Promise.resolve(noopResponse);
const faults = createFaults();
const recorder = createRecorder();
const WRAPPERS: Array<[string, Fetch]> = [
  ["no wrapper", noop],
  ["faults.wrap, no rule", faults.wrap(noop)],
  ["recorder + faults", recorder.wrap(faults.wrap(noop), faults.markOf)],
];
const probe = new Request(`${ORIGIN}/v2/`);
const wrapperSamples = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < WRAPPERS.length; k++) {
    const [name, fetch] = WRAPPERS[(k + round) % WRAPPERS.length];
    const stats = await measure(async () => do_not_optimize(await fetch(probe)), {
      min_cpu_time: 100e6,
    });
    // The fastest batch: other processes can only add time to a batch, never take it away.
    wrapperSamples.set(name, [...(wrapperSamples.get(name) ?? []), stats.min]);
    recorder.log.clear();
  }
}
const bareGet = median(samples.get("GET /v2/|bare")!);
const none = median(wrapperSamples.get("no wrapper")!);
console.log(
  "\nwrapper alone (wall time)  | ns/call (fastest) | added ns | added, share of a bare GET /v2/",
);
for (const [name] of WRAPPERS) {
  const value = median(wrapperSamples.get(name)!);
  console.log(
    `${name.padEnd(26)} | ${value.toFixed(0).padStart(17)} | ${
      (value - none).toFixed(0).padStart(8)
    } | ${(((value - none) / bareGet) * 100).toFixed(2).padStart(6)} %`,
  );
}
