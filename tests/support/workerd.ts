/**
 * Workers in a real workerd, through Miniflare (which brings workerd and simulates R2 locally):
 * bundle a Worker entry with esbuild the way wrangler does for `nodejs_compat` (platform
 * neutral, `node:*` left to workerd, no polyfills), and start it with an R2 bucket binding.
 * Used by tests/r2.test.ts and the `dev:workers` command (workers_dev.ts).
 *
 * @module
 */
import { resolve } from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { ROOT } from "./module_graph.ts";

/** The compatibility date the Workers run with. */
export const COMPATIBILITY_DATE = "2025-09-01";

/** A bundled Worker. */
export interface WorkerBundle {
  /** The ES module's code. */
  code: string;
  /** Every module bundled (paths relative to the root, or package paths). */
  inputs: string[];
  /** The imports left to workerd (`node:*`). */
  external: string[];
}

/**
 * Bundle the Worker entry `entry` (a path relative to the root) into one ES module.
 *
 * @example
 * ```ts
 * const { code } = await bundleWorker("lib/workers/worker.ts");
 * ```
 */
export async function bundleWorker(entry: string): Promise<WorkerBundle> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [resolve(ROOT, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    external: ["node:*"],
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const external = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imported of input.imports) if (imported.external) external.add(imported.path);
  }
  return {
    code: result.outputFiles[0].text,
    inputs: Object.keys(result.metafile.inputs).sort(),
    external: [...external].sort(),
  };
}

/** Options of {@link startWorkerd}. */
export interface WorkerdOptions {
  /** The Worker's code (an ES module). */
  code: string;
  /** Name of the R2 bucket binding. */
  binding: string;
  /** Keep the bucket under this directory (default: in memory). */
  persistTo?: string;
  /** Serve on this port of 127.0.0.1 too (default: only `dispatchFetch`). */
  port?: number;
  /** Variables of the Worker's `env`. */
  bindings?: Record<string, string>;
  /**
   * Run this many instances of the Worker (`w0`, `w1`, ...: separate isolates, one bucket).
   * Default 1. `dispatchFetch` goes to `w0`; `mf.getWorker("w1")` reaches the others.
   */
  instances?: number;
}

/**
 * Start workerd with the Worker and a local R2 bucket.
 *
 * @example
 * ```ts
 * const mf = await startWorkerd({ code, binding: "BUCKET" });
 * const res = await mf.dispatchFetch("http://registry.test/v2/");
 * ```
 */
export async function startWorkerd(options: WorkerdOptions): Promise<Miniflare> {
  const workers = Array.from({ length: options.instances ?? 1 }, (_, i) => ({
    name: `w${i}`,
    modules: true,
    script: options.code,
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
    r2Buckets: { [options.binding]: "registry-bucket" },
    bindings: options.bindings,
  }));
  const mf = new Miniflare({
    workers,
    r2Persist: options.persistTo ?? false,
    host: "127.0.0.1",
    port: options.port,
  });
  await mf.ready;
  return mf;
}
