/**
 * Builds the npm package into `dist/`: esbuild transpiles every module the package's entry points
 * load (tests/support/module_graph.ts: the subpath exports and the bin) to one ESM `.js` file each
 * (relative `.ts` imports rewritten to `.js`, packages and `node:` builtins left as imports), then
 * tsc writes the `.d.ts` declarations beside them. Nothing the entry points do not load is built,
 * so the package ships nothing else.
 *
 * Run with `npm run build` (or `tsx tests/support/build.ts`). With `--if-stale` (npm's `prestart`)
 * it builds only when dist/ is missing or older than a source (mod.ts, lib/, package.json or this
 * script), so `npm start` runs the built CLI of the current sources.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { build, type Plugin } from "esbuild";
import { moduleGraph, PACKAGE_ENTRIES, ROOT } from "./module_graph.ts";

const DIST = join(ROOT, "dist");
/** The module the npm `fetch-registry` bin points at; it gets a node shebang. */
const CLI = "lib/cli/main.js";

/** Newest modification time (ms) of the files under `path`, recursively. */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

if (process.argv.includes("--if-stale")) {
  const sources = ["mod.ts", "lib", "package.json", "tests/support/build.ts"].map((p) =>
    join(ROOT, p)
  );
  const built = join(DIST, CLI);
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map(newest))) {
    process.exit(0);
  }
}

/** Every `.d.ts` file under the absolute directory `dir`, recursively. */
function declarationFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...declarationFiles(path));
    else if (entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Keeps every relative import as an import of the sibling output file, with a `.js` extension. */
const relativeImportsAsJs: Plugin = {
  name: "relative-imports-as-js",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind === "entry-point") return undefined;
      return { path: args.path.replace(/\.ts$/, ".js"), external: true };
    });
  },
};

const started = performance.now();
rmSync(DIST, { recursive: true, force: true });

const entries = Object.values(PACKAGE_ENTRIES);
const loaded = new Set<string>();
for (const entry of entries) for (const m of (await moduleGraph(entry)).local) loaded.add(m);
const entryPoints = [...loaded].sort();
await build({
  absWorkingDir: ROOT,
  entryPoints,
  outdir: "dist",
  outbase: ".",
  bundle: true,
  packages: "external",
  external: ["node:*"],
  format: "esm",
  platform: "neutral",
  target: "es2022",
  charset: "utf8",
  legalComments: "inline",
  logLevel: "warning",
  plugins: [relativeImportsAsJs],
});

const tsc = join(ROOT, "node_modules", ".bin", "tsc");
try {
  // The declarations of the entry points and of everything they import, nothing else.
  const config = join(DIST, "tsconfig.build.json");
  writeFileSync(
    config,
    JSON.stringify({
      extends: "../tests/support/tsconfig.build.json",
      files: entries.map((e) => `../${e}`),
      include: [],
    }),
  );
  execFileSync(tsc, ["-p", config], {
    cwd: ROOT,
    stdio: "inherit",
  });
} catch {
  console.error("build failed: tsc could not emit the declarations without errors (see above)");
  process.exit(1);
}

rmSync(join(DIST, "tsconfig.build.json"));

// tsc keeps `.ts` in relative specifiers of declaration files; npm consumers need `.js`.
for (const file of declarationFiles(DIST)) {
  const text = readFileSync(file, "utf8");
  const rewritten = text.replace(
    /((?:\bfrom|\bimport)\s*\(?\s*["'])(\.\.?\/[^"'\n]*?)\.ts(["'])/g,
    "$1$2.js$3",
  );
  if (rewritten !== text) writeFileSync(file, rewritten);
}

const cli = join(DIST, CLI);
if (existsSync(cli)) {
  const text = readFileSync(cli, "utf8").replace(/^#!.*\n/, "");
  writeFileSync(cli, `#!/usr/bin/env node\n${text}`);
  chmodSync(cli, 0o755);
}

const ms = Math.round(performance.now() - started);
console.log(`built ${entryPoints.length} modules into ${relative(ROOT, DIST)}/ in ${ms} ms`);
