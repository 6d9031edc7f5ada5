/**
 * A/B of the two bcrypt candidates (bcryptjs, pure JS; hash-wasm, wasm): verify time of one
 * correct password against a cost-10 `$2y$` hash, as htpasswd -B writes it. Run it on each runtime:
 * `npx tsx bench/ab_bcrypt.ts`, `npx deno run -A bench/ab_bcrypt.ts`, `npx bun bench/ab_bcrypt.ts`.
 * Prints one markdown row per candidate.
 *
 * @module
 */
import bcryptjs from "bcryptjs";
import { bcryptVerify } from "hash-wasm";

const PASSWORD = "correct horse battery staple";
const ROUNDS = 20;

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${(globalThis as { process?: { version: string } }).process?.version}`;
}

async function measure(name: string, verify: (hash: string) => Promise<boolean>, hash: string) {
  if (!(await verify(hash))) throw new Error(`${name}: the right password was refused`);
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const ok = await verify(hash);
    times.push(performance.now() - t0);
    if (!ok) throw new Error(`${name}: the right password was refused`);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const p90 = times[Math.floor(times.length * 0.9)];
  console.log(`| ${runtime()} | ${name} | ${median.toFixed(1)} | ${p90.toFixed(1)} |`);
}

// A cost-10 hash made by bcryptjs, rewritten to the `$2y$` prefix htpasswd uses (same algorithm).
const hash = (await bcryptjs.hash(PASSWORD, 10)).replace(/^\$2b\$/, "$2y$");
await measure("bcryptjs", (h) => bcryptjs.compare(PASSWORD, h), hash);
await measure("hash-wasm", (h) => bcryptVerify({ password: PASSWORD, hash: h }), hash);
