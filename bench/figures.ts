/**
 * The figures of the comparison (issue 4) and the steps that measure them against one running
 * server. Every transfer is driven from a separate process (bench/client.ts, curl, wrk,
 * bench/load.ts); server CPU time and memory are read from /proc around the 1 GiB transfers.
 *
 * @module
 */
import {
  type ClientProcess,
  curlPull,
  curlRanges,
  loadGen,
  type LoadResult,
  wrk,
} from "./drivers.ts";
import { cpuSeconds, processTree, rssBytes, watchPeakRss } from "./proc_stats.ts";
import type { RunningTarget } from "./targets.ts";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** One row of the table. */
export interface Figure {
  id: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  /** Ratio to distribution to reach (higher is better rows), or an absolute ceiling. */
  target?: { ratio?: number; max?: number };
  digits: number;
}

/** Every row, in table order. */
export const FIGURES: readonly Figure[] = [
  {
    id: "push_mono",
    label: "monolithic push (POST + PUT), {size}",
    unit: "MiB/s",
    better: "higher",
    target: { ratio: 1.5 },
    digits: 0,
  },
  {
    id: "push_chunked",
    label: "chunked push, 8 MiB PATCHes, {size}",
    unit: "MiB/s",
    better: "higher",
    target: { ratio: 2.5 },
    digits: 0,
  },
  {
    id: "push_streamed",
    label: "streamed PATCH (chunked encoding), {size}",
    unit: "MiB/s",
    better: "higher",
    digits: 0,
  },
  {
    id: "pull",
    label: "blob pull, {size}",
    unit: "MiB/s",
    better: "higher",
    target: { ratio: 1.0 },
    digits: 0,
  },
  {
    id: "range",
    label: "ranged GET 1 MiB from the middle, median",
    unit: "ms",
    better: "lower",
    digits: 2,
  },
  {
    id: "head_tag",
    label: "manifest HEAD by tag, {c} conns",
    unit: "req/s",
    better: "higher",
    target: { ratio: 3 },
    digits: 0,
  },
  {
    id: "head_tag_p99",
    label: "manifest HEAD by tag, p99",
    unit: "ms",
    better: "lower",
    digits: 1,
  },
  {
    id: "get_tag",
    label: "manifest GET by tag, {c} conns",
    unit: "req/s",
    better: "higher",
    target: { ratio: 3 },
    digits: 0,
  },
  { id: "get_tag_p99", label: "manifest GET by tag, p99", unit: "ms", better: "lower", digits: 1 },
  {
    id: "get_digest",
    label: "manifest GET by digest, {c} conns",
    unit: "req/s",
    better: "higher",
    target: { ratio: 3 },
    digits: 0,
  },
  {
    id: "get_digest_p99",
    label: "manifest GET by digest, p99",
    unit: "ms",
    better: "lower",
    digits: 1,
  },
  {
    id: "tags_list",
    label: "tags list, {tags} tags, n=100 to the end",
    unit: "ms",
    better: "lower",
    digits: 0,
  },
  { id: "tags_requests", label: "tags list: requests made", unit: "", better: "lower", digits: 0 },
  {
    id: "rss_idle",
    label: "server RSS idle (fresh server, before the {big} push)",
    unit: "MiB",
    better: "lower",
    digits: 1,
  },
  { id: "big_push", label: "push {big} (monolithic)", unit: "MiB/s", better: "higher", digits: 0 },
  { id: "cpu_push", label: "server CPU per GiB pushed", unit: "s/GiB", better: "lower", digits: 2 },
  {
    id: "rss_push",
    label: "server peak RSS during {big} push",
    unit: "MiB",
    better: "lower",
    target: { max: 80 },
    digits: 1,
  },
  { id: "big_pull", label: "pull {big}", unit: "MiB/s", better: "higher", digits: 0 },
  { id: "cpu_pull", label: "server CPU per GiB pulled", unit: "s/GiB", better: "lower", digits: 2 },
  {
    id: "rss_pull",
    label: "server peak RSS during {big} pull",
    unit: "MiB",
    better: "lower",
    target: { max: 80 },
    digits: 1,
  },
];

/** Sizes and load settings. */
export interface BenchSettings {
  size: number;
  big: number;
  chunk: number;
  tags: number;
  connections: number;
  seconds: number;
  rangeCount: number;
  /** CPU list for load-side processes when pinning. */
  clientCpus?: string;
}

/** What a step needs: the server, the client, the settings, and per-server state. */
export interface StepEnv {
  server: RunningTarget;
  client: ClientProcess;
  settings: BenchSettings;
  state: { blob?: string; manifestDigest?: string; bigBlob?: string; tagsUnordered?: boolean };
}

/** A measurement step: measures one or more figures, answers their values. */
export interface Step {
  id: string;
  /** Runs on a freshly started server of its own (memory and CPU figures of one transfer). */
  fresh?: boolean;
  run(env: StepEnv): Promise<Record<string, number>>;
}

const ACCEPT = { Accept: "application/vnd.oci.image.manifest.v1+json" };
const BLOB_REPO = "bench/blobs";
const MANIFEST_REPO = "bench/manifest";
const TAGS_REPO = "bench/tags";
let payloads = 0;

async function pushPayload(env: StepEnv, size: number, mode: string) {
  const id = `p${++payloads}`;
  const { digest } = await env.client.call<{ digest: string }>({ op: "prepare", id, size });
  try {
    const r = await env.client.call<{ seconds: number; bytes: number }>({
      op: "push",
      id,
      base: env.server.base,
      repo: BLOB_REPO,
      mode,
      chunk: env.settings.chunk,
    });
    return { digest, mibps: r.bytes / MIB / r.seconds };
  } finally {
    await env.client.call({ op: "drop", id });
  }
}

function pushStep(id: string, mode: string): Step {
  return {
    id,
    async run(env) {
      const { digest, mibps } = await pushPayload(env, env.settings.size, mode);
      if (mode === "monolithic") env.state.blob = digest;
      return { [id]: mibps };
    },
  };
}

function loadStep(id: string, method: string, by: "tag" | "digest"): Step {
  return {
    id,
    async run(env) {
      if (!env.state.manifestDigest) throw new Error("no manifest (setup failed)");
      const ref = by === "tag" ? "latest" : env.state.manifestDigest;
      const url = `${env.server.base}/v2/${MANIFEST_REPO}/manifests/${ref}`;
      const opts = {
        method,
        connections: env.settings.connections,
        seconds: env.settings.seconds,
        headers: ACCEPT,
        cpus: env.settings.clientCpus,
      };
      const r: LoadResult = method === "HEAD" ? await loadGen(url, opts) : await wrk(url, opts);
      if (r.failures > 0) {
        throw new Error(`${r.failures} failed requests of ${r.requests} (${r.tool})`);
      }
      if (!(r.requests > 0)) throw new Error(`no requests completed (${r.tool})`);
      return { [id]: r.rps, [`${id}_p99`]: r.p99Ms };
    },
  };
}

/** Size of each warm-up push. */
export const WARM_UP_SIZE = 64 * MIB;

/**
 * Before the first round, one unmeasured push of {@link WARM_UP_SIZE} in each mode, on every
 * server alike: the first requests of a JavaScript server run in its interpreter until the JIT has
 * compiled the hot paths, which a long-running registry has long done.
 */
export async function warmUp(env: StepEnv): Promise<void> {
  for (const mode of ["monolithic", "chunked", "streamed"]) {
    await pushPayload(env, WARM_UP_SIZE, mode);
  }
}

/** Per-server setup (once): an image tagged `latest`, and `tags` tags on one manifest. */
export async function setup(env: StepEnv): Promise<void> {
  const image = await env.client.call<{ manifest: string; digest: string }>({
    op: "image",
    base: env.server.base,
    repo: MANIFEST_REPO,
    tag: "latest",
  });
  env.state.manifestDigest = image.digest;
  const tagged = await env.client.call<{ manifest: string }>({
    op: "image",
    base: env.server.base,
    repo: TAGS_REPO,
    tag: "t00000",
  });
  await env.client.call({
    op: "tags",
    base: env.server.base,
    repo: TAGS_REPO,
    manifest: tagged.manifest,
    count: env.settings.tags,
    concurrency: 8,
  });
}

/** The measurement steps of one round, in order. */
export const STEPS: readonly Step[] = [
  pushStep("push_mono", "monolithic"),
  pushStep("push_chunked", "chunked"),
  pushStep("push_streamed", "streamed"),
  {
    id: "pull",
    async run(env) {
      if (!env.state.blob) {
        env.state.blob = (await pushPayload(env, env.settings.size, "monolithic")).digest;
      }
      const r = await curlPull(
        `${env.server.base}/v2/${BLOB_REPO}/blobs/${env.state.blob}`,
        env.settings.clientCpus,
      );
      if (r.bytes !== env.settings.size) {
        throw new Error(`pulled ${r.bytes} bytes, expected ${env.settings.size}`);
      }
      return { pull: r.bytes / MIB / r.seconds };
    },
  },
  {
    id: "range",
    async run(env) {
      if (!env.state.blob) throw new Error("no blob to read");
      const start = Math.floor(env.settings.size / 2);
      const ms = await curlRanges(
        `${env.server.base}/v2/${BLOB_REPO}/blobs/${env.state.blob}`,
        `${start}-${start + MIB - 1}`,
        MIB,
        env.settings.rangeCount,
        env.settings.clientCpus,
      );
      return { range: ms[Math.floor((ms.length - 1) / 2)] };
    },
  },
  loadStep("head_tag", "HEAD", "tag"),
  loadStep("get_tag", "GET", "tag"),
  loadStep("get_digest", "GET", "digest"),
  {
    id: "tags_list",
    async run(env) {
      const r = await env.client.call<
        { seconds: number; requests: number; tags: number; ordered: boolean }
      >({
        op: "list",
        base: env.server.base,
        repo: TAGS_REPO,
        n: 100,
      });
      if (r.tags !== env.settings.tags) {
        throw new Error(`listed ${r.tags} tags, expected ${env.settings.tags}`);
      }
      env.state.tagsUnordered = !r.ordered;
      return { tags_list: r.seconds * 1000, tags_requests: r.requests };
    },
  },
  {
    id: "big_push",
    fresh: true,
    async run(env) {
      const size = env.settings.big;
      const id = `p${++payloads}`;
      const { digest } = await env.client.call<{ digest: string }>({ op: "prepare", id, size });
      const pids = processTree(env.server.pid);
      const idle = rssBytes(pids);
      const cpu0 = cpuSeconds(pids);
      const rss = watchPeakRss(pids);
      let r: { seconds: number; bytes: number };
      try {
        r = await env.client.call({
          op: "push",
          id,
          base: env.server.base,
          repo: BLOB_REPO,
          mode: "monolithic",
        });
      } catch (error) {
        rss.stop();
        throw error;
      } finally {
        await env.client.call({ op: "drop", id });
      }
      const peak = rss.stop().peak;
      const cpu = cpuSeconds(pids) - cpu0;
      env.state.bigBlob = digest;
      return {
        rss_idle: idle / MIB,
        big_push: r.bytes / MIB / r.seconds,
        cpu_push: cpu / (r.bytes / GIB),
        rss_push: peak / MIB,
      };
    },
  },
  {
    id: "big_pull",
    fresh: true,
    async run(env) {
      if (!env.state.bigBlob) throw new Error("no large blob (its push failed)");
      const pids = processTree(env.server.pid);
      const cpu0 = cpuSeconds(pids);
      const rss = watchPeakRss(pids);
      let r: { seconds: number; bytes: number };
      try {
        r = await curlPull(
          `${env.server.base}/v2/${BLOB_REPO}/blobs/${env.state.bigBlob}`,
          env.settings.clientCpus,
        );
      } catch (error) {
        rss.stop();
        throw error;
      }
      const peak = rss.stop().peak;
      const cpu = cpuSeconds(pids) - cpu0;
      if (r.bytes !== env.settings.big) {
        throw new Error(`pulled ${r.bytes} bytes, expected ${env.settings.big}`);
      }
      return {
        big_pull: r.bytes / MIB / r.seconds,
        cpu_pull: cpu / (r.bytes / GIB),
        rss_pull: peak / MIB,
      };
    },
  },
];
