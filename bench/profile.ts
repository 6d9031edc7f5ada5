/**
 * Profile one server while bench steps run against it, and print where its CPU time goes.
 *
 * ```sh
 * npx tsx bench/profile.ts --target deno --steps big_pull --repeat 3
 * npx tsx bench/profile.ts --target node --steps head_tag,get_tag --tags 10
 * npx tsx bench/profile.ts --summarize some.cpuprofile
 * ```
 *
 * Node and Deno are profiled through their inspector (Chrome DevTools protocol: Profiler.start /
 * stop around the steps only); Bun with `--cpu-prof` (whole process life, written when the CLI
 * exits on SIGTERM). The .cpuprofile is kept in the temporary directory (path printed; open it in
 * Chrome DevTools or speedscope); the summary (self and inclusive time per function, and per
 * file) is printed and written to bench/results/profiles/<target>-<steps>.txt.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { ClientProcess } from "./drivers.ts";
import { type BenchSettings, setup, type StepEnv, STEPS } from "./figures.ts";
import { freePort, ROOT, startTarget, TARGETS } from "./targets.ts";

const MIB = 1024 * 1024;

// Node 20 has WebSocket only behind a flag: re-run this script with it.
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== "function") {
  const r = spawnSync(
    process.execPath,
    ["--experimental-websocket", "--no-warnings", "--import", "tsx", ...process.argv.slice(1)],
    { stdio: "inherit" },
  );
  process.exit(r.status ?? 1);
}

/** A V8 CPU profile (.cpuprofile). */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  return path.startsWith(ROOT) ? relative(ROOT, path) : path.replace(/^.*node_modules\//, "~/");
}

/** Self and inclusive time per function and per file, as text. */
export function summarize(profile: CpuProfile, top = 30): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (id: number) => {
    const f = byId.get(id)!.callFrame;
    const where = f.url ? ` ${shortUrl(f.url)}:${f.lineNumber + 1}` : "";
    return `${f.functionName || "(anonymous)"}${where}`;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    total += dt;
    const name = byId.get(id)!.callFrame.functionName;
    if (name === "(idle)") idle += dt;
    self.set(key(id), (self.get(key(id)) ?? 0) + dt);
    const url = byId.get(id)!.callFrame.url;
    const file = url ? shortUrl(url) : `(${name || "native"})`;
    files.set(file, (files.get(file) ?? 0) + dt);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>, skip = (_k: string) => false) =>
    [...m].filter(([k]) => !skip(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([k, t]) => `${pct(t)}  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`).join("\n");
  return [
    `sampled ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s, busy ${
      (busy / 1e6).toFixed(2)
    } s (percentages of busy)`,
    "",
    "self time by function:",
    list(self, (k) => k.startsWith("(idle)")),
    "",
    "inclusive time by function:",
    list(incl, (k) => k.startsWith("(root)") || k.startsWith("(idle)")),
    "",
    "self time by file:",
    list(files, (k) => k === "((idle))"),
  ].join("\n");
}

/** A minimal Chrome DevTools protocol session over the inspector's WebSocket. */
async function cdp(port: number) {
  let targets: Array<{ webSocketDebuggerUrl: string }> = [];
  for (let i = 0; i < 100 && targets.length === 0; i++) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (targets.length === 0) throw new Error("no inspector target");
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const pending = new Map<number, (v: { result?: unknown; error?: unknown }) => void>();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: unknown;
    };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  };
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) =>
        pending.set(
          id,
          (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result as T)),
        )
      );
    },
    close: () => ws.close(),
  };
}

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "node" },
    steps: { type: "string", default: "big_push,big_pull" },
    repeat: { type: "string", default: "1" },
    "size-mib": { type: "string", default: "256" },
    "big-mib": { type: "string", default: "1024" },
    tags: { type: "string", default: "100" },
    seconds: { type: "string", default: "5" },
    interval: { type: "string", default: "200" },
    summarize: { type: "string" },
  },
});

if (args.summarize) {
  console.log(summarize(JSON.parse(readFileSync(args.summarize, "utf8")) as CpuProfile));
  process.exit(0);
}

const target = TARGETS.find((t) => t.id === args.target);
if (!target || target.id === "distribution") throw new Error(`--target must be node, deno or bun`);
const settings: BenchSettings = {
  size: Number(args["size-mib"]) * MIB,
  big: Number(args["big-mib"]) * MIB,
  chunk: 8 * MIB,
  tags: Number(args.tags),
  connections: 32,
  seconds: Number(args.seconds),
  rangeCount: 50,
};
const steps = args.steps.split(",").map((id) => {
  const step = STEPS.find((s) => s.id === id);
  if (!step) throw new Error(`unknown step ${id}: ${STEPS.map((s) => s.id).join(", ")}`);
  return step;
});
const tmp = mkdtempSync(join(os.tmpdir(), "fetch-registry-profile-"));
const inspectPort = await freePort();
const flags = target.id === "bun"
  ? ["--cpu-prof", `--cpu-prof-dir=${tmp}`, `--cpu-prof-interval=${args.interval}`]
  : target.id === "deno"
  ? [`--inspect=127.0.0.1:${inspectPort}`]
  : [`--inspect=127.0.0.1:${inspectPort}`];
const server = await startTarget(target, join(tmp, "server"), undefined, flags);
const client = new ClientProcess();
const env: StepEnv = { server, client, settings, state: {} };
let profile: CpuProfile | undefined;
try {
  const session = target.id === "bun" ? undefined : await cdp(inspectPort);
  if (steps.some((s) => /head|get_|tags/.test(s.id))) await setup(env);
  if (
    steps.some((s) => ["pull", "range"].includes(s.id)) && !steps.some((s) => s.id === "push_mono")
  ) {
    await STEPS.find((s) => s.id === "push_mono")!.run(env);
  }
  if (steps.some((s) => s.id === "big_pull") && !steps.some((s) => s.id === "big_push")) {
    await STEPS.find((s) => s.id === "big_push")!.run(env);
  }
  await session?.send("Profiler.enable");
  await session?.send("Profiler.setSamplingInterval", { interval: Number(args.interval) });
  await session?.send("Profiler.start");
  for (let i = 0; i < Number(args.repeat); i++) {
    for (const step of steps) {
      const result = await step.run(env);
      console.error(
        `${step.id}: ${Object.entries(result).map(([k, v]) => `${k}=${v.toFixed(2)}`).join(" ")}`,
      );
    }
  }
  if (session) {
    profile = (await session.send<{ profile: CpuProfile }>("Profiler.stop")).profile;
    session.close();
  }
} finally {
  await client.close();
  await server.stop();
}
if (!profile) {
  const file = readdirSync(tmp).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile written in ${tmp} (did the server exit cleanly?)`);
  profile = JSON.parse(readFileSync(join(tmp, file), "utf8")) as CpuProfile;
}
const profilePath = join(tmp, `${target.id}-${args.steps.replace(/,/g, "+")}.cpuprofile`);
writeFileSync(profilePath, JSON.stringify(profile));
const text =
  `profile of ${target.id} during ${args.steps} ×${args.repeat} (${new Date().toISOString()})\n` +
  `${profilePath}\n\n${summarize(profile)}\n`;
console.log(text);
const outDir = join(ROOT, "bench", "results", "profiles");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `${target.id}-${args.steps.replace(/,/g, "+")}.txt`), text);
