/**
 * What access control costs, over a real socket (`startRegistry` on the runtime's default server,
 * requests by the runtime's `fetch` over keep-alive connections, as a client on the same machine
 * would send them) or in-process (`--in-process`: `registry.fetch`, no sockets), on whichever
 * runtime runs it:
 *
 * ```sh
 * npx tsx bench/auth.ts                 # socket
 * npx deno run -A bench/auth.ts
 * npx bun bench/auth.ts
 * npx tsx bench/auth.ts --in-process    # registry.fetch
 * ```
 *
 * Modes, each a registry over its own memory storage seeded with the same 10-layer image
 * (1 MiB layers): `anonymous` (no access control), `basic` (an htpasswd bcrypt cost-10 entry,
 * success cache on), `basic, no cache` (the same with `cacheTtlMs: 0`, to show what the cache
 * buys), `token` (built-in token service, ES256; a pull first GETs a token with Basic
 * credentials, as clients do).
 *
 * Figures: manifest GETs per second (sequential, body read), and a 10-layer pull (token if any,
 * manifest, config, then the layers three at a time as docker and podman do, bodies read): the
 * median over rounds of a warm pull, the fastest one (the garbage collector's pauses, which
 * make in-process pulls of 10 MiB bimodal on Deno and Bun, mostly left out), and the first pull after the registry was made (a cold
 * bcrypt check: the first bcrypt run also loads and compiles hash-wasm), and the median time of a
 * pull's token request alone. Modes are interleaved in
 * a random order per round, so the shared machine's noise (and the previous mode's garbage) hits
 * them alike; `basic, no cache` runs in three rounds only.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import process from "node:process";
import { basicAuth } from "../lib/auth/basic_mode.ts";
import { tokenAuth } from "../lib/auth/token_mode.ts";
import { createRegistry, type Registry, type RegistryOptions } from "../lib/registry.ts";
import { startRegistry } from "../lib/server/start.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import { createSeeder } from "../lib/testing/seed.ts";
import type { SeededImage } from "../lib/testing/seed_types.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 0) || 9;
const LAYER_BYTES = 1024 * 1024;
const PASSWORD = "correct horse battery staple";
const HTPASSWD = execFileSync("htpasswd", ["-nbB", "-C", "10", "alice", PASSWORD], {
  encoding: "utf8",
});
const BASIC = `Basic ${btoa(`alice:${PASSWORD}`)}`;
const ORIGIN = "http://registry.bench";
const IN_PROCESS = process.argv.includes("--in-process");

/** Sends one request to a registry: in-process or over its socket. */
type Send = (path: string, headers: Record<string, string>) => Promise<Response>;

interface Mode {
  name: string;
  auth?: () => RegistryOptions["auth"];
  /** The Authorization value of a pull's requests (after getting a token, if any). */
  login(send: Send): Promise<string | undefined>;
}

const MODES: Mode[] = [
  { name: "anonymous", login: async () => undefined },
  {
    name: "basic",
    auth: () => basicAuth({ htpasswd: HTPASSWD }),
    login: async () => BASIC,
  },
  {
    name: "basic, no cache",
    auth: () => basicAuth({ htpasswd: HTPASSWD, cacheTtlMs: 0 }),
    login: async () => BASIC,
  },
  {
    name: "token",
    auth: () => tokenAuth({ htpasswd: HTPASSWD }),
    async login(send) {
      const res = await send("/token?service=fetch-registry&scope=repository:bench/app:pull", {
        Authorization: BASIC,
      });
      if (res.status !== 200) throw new Error(`token: ${res.status}`);
      return `Bearer ${(await res.json()).token}`;
    },
  },
];

interface Target {
  mode: Mode;
  send: Send;
  image: SeededImage;
  close(): Promise<void>;
}

async function setup(mode: Mode): Promise<Target> {
  const storage = memoryStorage();
  const open = createRegistry({ storage });
  const layers = Array.from({ length: 10 }, (_, i) => new Uint8Array(LAYER_BYTES).fill(i + 1));
  const image = await createSeeder(open).image("bench/app", { tag: "latest", layers });
  if (IN_PROCESS) {
    const registry: Registry = createRegistry({ storage, auth: mode.auth?.() });
    return {
      mode,
      image,
      send: (path, headers) => registry.fetch(new Request(`${ORIGIN}${path}`, { headers })),
      close: async () => {},
    };
  }
  const server = await startRegistry({ storage, auth: mode.auth?.(), port: 0 });
  return {
    mode,
    image,
    send: (path, headers) => fetch(`${server.url}${path}`, { headers }),
    close: () => server.close(),
  };
}

async function get(send: Send, path: string, authorization?: string): Promise<void> {
  const headers: Record<string, string> = {
    Accept: "application/vnd.oci.image.manifest.v1+json",
  };
  if (authorization) headers.Authorization = authorization;
  const res = await send(path, headers);
  if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  const reader = res.body!.getReader();
  while (!(await reader.read()).done) { /* drain */ }
}

/** Milliseconds of the last pull spent getting credentials (the token request, if any). */
let lastLoginMs = 0;

async function pull({ mode, send, image }: Target): Promise<number> {
  const t0 = performance.now();
  const authorization = await mode.login(send);
  lastLoginMs = performance.now() - t0;
  await get(send, "/v2/bench/app/manifests/latest", authorization);
  await get(send, `/v2/bench/app/blobs/${image.config.digest}`, authorization);
  const queue = image.layers.map((l) => l.digest);
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        await get(send, `/v2/bench/app/blobs/${d}`, authorization);
      }
    }),
  );
  return performance.now() - t0;
}

async function manifestRate({ mode, send }: Target, ms: number): Promise<number> {
  const authorization = await mode.login(send);
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await get(send, "/v2/bench/app/manifests/latest", authorization);
    n++;
  }
  return n / (ms / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${(globalThis as { process?: { version: string } }).process?.version}`;
}

const targets = await Promise.all(MODES.map(setup));
const cold = new Map<string, number>();
for (const t of targets) cold.set(t.mode.name, await pull(t));
const pulls = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
const rates = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
const logins = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  // A new random order each round: a mode never always follows the same one (the one before
  // leaves garbage the next one's pull may pay for).
  const order = [...targets].sort(() => Math.random() - 0.5);
  for (const t of order) {
    // Without the cache, a pull is a dozen bcrypt runs: three samples say enough.
    if (t.mode.name === "basic, no cache" && round >= 3) continue;
    pulls.get(t.mode.name)!.push(await pull(t));
    logins.get(t.mode.name)!.push(lastLoginMs);
    rates.get(t.mode.name)!.push(await manifestRate(t, 250));
  }
}
const base = median(pulls.get("anonymous")!);
const baseRate = median(rates.get("anonymous")!);
const transport = IN_PROCESS ? "in-process" : "socket (startRegistry, default server)";
console.log(
  `\n${runtime()}, ${transport}, ${ROUNDS} rounds, 10 layers of ${LAYER_BYTES / 1024} KiB\n`,
);
console.log(
  "| mode | manifest GET/s | vs anonymous | warm pull ms (median) | vs anonymous " +
    "| fastest pull ms | vs anonymous | first pull ms | of a pull: token request ms (median) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
const fastest = (name: string) => Math.min(...pulls.get(name)!);
for (const m of MODES) {
  const rate = median(rates.get(m.name)!);
  const p = median(pulls.get(m.name)!);
  console.log(
    `| ${m.name} | ${rate.toFixed(0)} | ${(rate / baseRate).toFixed(2)} | ${p.toFixed(1)} | ` +
      `${(p / base).toFixed(2)} | ${fastest(m.name).toFixed(1)} | ` +
      `${(fastest(m.name) / fastest("anonymous")).toFixed(2)} | ${
        cold.get(m.name)!.toFixed(1)
      } | ` +
      `${median(logins.get(m.name)!).toFixed(2)} |`,
  );
}
await Promise.all(targets.map((t) => t.close()));
