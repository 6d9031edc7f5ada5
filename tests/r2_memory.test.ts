/**
 * Memory stays bounded in workerd on a 1 GiB push. Miniflare's workerd runs the Worker and the R2
 * simulation in one process, whose resident memory (read from /proc/<pid>/status every 100 ms)
 * is all the host can see. So the test measures it twice over the same 1 GiB body sent in one
 * PATCH (as skopeo and podman send layers), each time in a fresh workerd with a bucket on disk:
 * first under a minimal Worker that only hashes the body and streams it into one multipart upload
 * through one reused 10 MiB buffer (what workerd and the R2 simulation cost by themselves), then
 * under the Worker entry (lib/workers/worker.ts, bundled as for wrangler) pushing it as a blob
 * and committing it. The registry may add at most 32 MiB to the minimal Worker's growth: a copy
 * of the blob, or parts piling up, would add hundreds.
 *
 * `R2_MEMORY_MIB` sets the size (default 1024). Linux only (/proc).
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
/** What workerd grew by under the minimal Worker (measured first). */
let baselineGrowth: number | undefined;
/** Most the registry may add to the minimal Worker's growth. */
const EXTRA = 32 * MiB;
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

/**
 * The least any R2 Worker does with such a body: hash it and stream it into one multipart upload
 * of 10 MiB parts through one reused buffer. What the same workerd process grows by here is
 * the cost of workerd and the R2 simulation alone, to compare the registry's growth with.
 */
const RAW_WORKER = `
import { createHash } from "node:crypto";
const PART = 10 * 1024 * 1024;
export default {
  async fetch(request, env) {
    if (request.method !== "PATCH") return new Response("ok");
    const hash = createHash("sha256");
    const upload = await env.REGISTRY_BUCKET.createMultipartUpload("raw");
    const part = new Uint8Array(PART);
    const parts = [];
    let filled = 0;
    for await (const chunk of request.body) {
      hash.update(chunk);
      let rest = chunk;
      while (rest.byteLength > 0) {
        const take = Math.min(rest.byteLength, PART - filled);
        part.set(rest.subarray(0, take), filled);
        filled += take;
        rest = rest.subarray(take);
        if (filled === PART) {
          parts.push(await upload.uploadPart(parts.length + 1, part));
          filled = 0;
        }
      }
    }
    if (filled) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
    const done = await upload.complete(parts);
    return new Response(hash.digest("hex") + " " + done.size);
  },
};`;

test("the same body hashed and streamed to R2 by a minimal Worker: the baseline", async () => {
  const dir = mkdtempSync(join(tmpdir(), "r2-memory-"));
  const before = new Set(workerdPids());
  const mf = await startWorkerd({ code: RAW_WORKER, binding: "REGISTRY_BUCKET", persistTo: dir });
  try {
    const [pid] = workerdPids().filter((p) => !before.has(p));
    const dispatch = dispatcher(mf);
    await (await dispatch("http://raw.test/", { method: "GET" })).arrayBuffer();
    const baseline = rss(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 100);
    const buffer = new Uint8Array(MiB);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === TOTAL) return controller.close();
        const chunk = block(sent / MiB, buffer).slice();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    try {
      const res = await dispatch("http://raw.test/", { method: "PATCH", body, duplex: "half" });
      assert.match(await res.text(), new RegExp(` ${TOTAL}$`));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rss(pid));
    baselineGrowth = peak - baseline;
    console.log(
      `baseline Worker: workerd RSS ${(baseline / MiB).toFixed(0)} MiB before, peak ` +
        `${(peak / MiB).toFixed(0)} MiB (+${((peak - baseline) / MiB).toFixed(0)} MiB)`,
    );
  } finally {
    await mf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the registry: one PATCH of the whole layer, then PUT ?digest=; growth within 32 MiB of the baseline", async () => {
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
    assert.ok(baselineGrowth !== undefined, "the baseline ran first");
    assert.ok(
      growth < baselineGrowth + EXTRA,
      `the registry grew workerd by ${(growth / MiB).toFixed(0)} MiB, the minimal Worker by ` +
        `${(baselineGrowth / MiB).toFixed(0)} MiB: more than ${EXTRA / MiB} MiB apart`,
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
