/**
 * The package's entry points and the modules each one loads, as esbuild's bundler resolves them
 * (packages and `node:` builtins left as imports). Shared by the build (which builds exactly the
 * modules the entry points load) and tests/entry_points.test.ts (which pins what each one loads).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The repository root. */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The package's entry points: every subpath export (package.json and deno.json `exports`) and the
 * npm bin, as source paths relative to the root.
 */
export const PACKAGE_ENTRIES: Record<string, string> = {
  ".": "mod.ts",
  "./fs": "lib/storage/fs/mod.ts",
  "./s3": "lib/storage/s3/mod.ts",
  "./gc": "lib/gc/mod.ts",
  "./r2": "lib/storage/r2/mod.ts",
  "./workers": "lib/workers/mod.ts",
  "./server": "lib/server/mod.ts",
  "./observe": "lib/observe/mod.ts",
  "./testing": "lib/testing/mod.ts",
  bin: "lib/cli/main.ts",
};

/** What one entry point loads. */
export interface ModuleGraph {
  /** Repository modules (paths relative to the root), sorted. */
  local: string[];
  /** Packages and builtins it imports statically (`node:http`, `itty-router`...), sorted. */
  external: string[];
  /** Packages it imports only with a dynamic `import()` (loaded on first use), sorted. */
  lazy: string[];
}

/**
 * Every module `entry` (a path relative to the root) loads, following static and dynamic
 * imports.
 *
 * @example
 * ```ts
 * const { local, external } = await moduleGraph("mod.ts");
 * ```
 */
export async function moduleGraph(entry: string): Promise<ModuleGraph> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    packages: "external",
    external: ["node:*"],
    format: "esm",
    platform: "neutral",
    write: false,
    metafile: true,
    outdir: "out",
    logLevel: "silent",
  });
  const local = Object.keys(result.metafile.inputs).sort();
  const external = new Set<string>();
  const dynamic = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imported of input.imports) {
      if (!imported.external) continue;
      (imported.kind === "dynamic-import" ? dynamic : external).add(imported.path);
    }
  }
  const lazy = [...dynamic].filter((path) => !external.has(path));
  return { local, external: [...external].sort(), lazy: lazy.sort() };
}
