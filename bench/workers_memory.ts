/**
 * Memory of workerd during a big push: the Worker entry (bundled as for wrangler) in Miniflare's
 * workerd over a local R2 bucket kept on disk, a layer (default 1 GiB, `R2_MEMORY_MIB`) streamed
 * in one PATCH (as skopeo and podman send layers), then committed and checked by HEAD. Prints the
 * resident memory of the workerd process (read from /proc/<pid>/status every 100 ms) before and
 * at its peak. That process also runs Miniflare's R2 simulation, so the growth is an upper bound
 * of the Worker's own. Linux only (/proc).
 *
 * Run: `npx tsx bench/workers_memory.ts` (about a minute).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { suite } from "uvu";
import { dispatcher } from "../tests/support/r2_remote.ts";
import { bundleWorker, startWorkerd } from "../tests/support/workerd.ts";

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.R2_MEMORY_MIB ?? 1024) * MiB;
const test = suite(`r2 in workerd: memory on a ${TOTAL / MiB} MiB push`);

/** Resident set size of `pid` in bytes. */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** The workerd processes started below this process (children and grandchildren). */
function workerdPids(): number[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
    } catch { /* gone meanwhile */ }
  }
  const mine = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) {
      if (p === process.pid) return true;
    }
    return false;
  };
  return [...names].filter(([pid, name]) => name === "workerd" && mine(pid)).map(([pid]) => pid);
}

/** 1 MiB blocks of bytes that differ from block to block (one shared buffer, refilled). */
function block(index: number, buffer: Uint8Array): Uint8Array {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  for (let i = 0; i < buffer.byteLength; i += 4096) view.setUint32(i, index * 7919 + i);
  return buffer;
}

test("one PATCH of the whole layer, then PUT ?digest=: workerd's resident memory", async () => {
  assert.ok(existsSync("/proc/self/status"), "needs Linux's /proc");
  const dir = mkdtempSync(join(tmpdir(), "r2-memory-"));
  const before = new Set(workerdPids());
  const { code } = await bundleWorker("lib/workers/worker.ts");
  const mf = await startWorkerd({ code, binding: "REGISTRY_BUCKET", persistTo: dir });
  try {
    const pids = workerdPids().filter((p) => !before.has(p));
    assert.equal(pids.length, 1, `one workerd process started: ${pids.join(", ")}`);
    const [pid] = pids;
    const dispatch = dispatcher(mf);
    const base = "http://registry.test/v2/big/blobs/uploads/";
    // Warm up (the first requests compile the Worker and start the R2 simulation).
    const warm = await dispatch(base, { method: "POST" });
    await warm.arrayBuffer();
    const start = await dispatch(base, { method: "POST" });
    await start.arrayBuffer();
    const location = new URL(start.headers.get("Location")!, base).href;
    const baseline = rss(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 100);
    const hash = createHash("sha256");
    const buffer = new Uint8Array(MiB);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === TOTAL) return controller.close();
        const chunk = block(sent / MiB, buffer).slice();
        hash.update(chunk);
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    let digest: string;
    try {
      const patch = await dispatch(location, { method: "PATCH", body, duplex: "half" });
      await patch.arrayBuffer();
      assert.equal(patch.status, 202);
      assert.equal(patch.headers.get("Range"), `0-${TOTAL - 1}`);
      digest = `sha256:${hash.digest("hex")}`;
      const next = new URL(patch.headers.get("Location")!, base);
      next.searchParams.set("digest", digest);
      const put = await dispatch(next.href, { method: "PUT" });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rss(pid));
    const growth = peak - baseline;
    console.log(
      `workerd RSS ${(baseline / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB` +
        ` during the ${TOTAL / MiB} MiB push (+${(growth / MiB).toFixed(0)} MiB)`,
    );
    const head = await dispatch(`http://registry.test/v2/big/blobs/${digest}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("Content-Length"), String(TOTAL));
  } finally {
    await mf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
