/**
 * The packed-tarball check: what npm users get is what is tested.
 *
 * Packs the built package (`npm pack`, after `npm run build`) and checks that it ships exactly
 * what the subpath exports and the bin load (walking their imports through dist/), plus
 * package.json, README.md and LICENSE: no tests, no bench, no stray module. Installs the tarball
 * into a fresh temporary project with npm, then, with plain `node` (no tsx, no TypeScript loader),
 * imports `fetch-registry`, creates a registry, pushes a blob and a manifest and pulls them back
 * through `fetch`, and imports every subpath (`/fs`: a push and pull on fsStorage; `/s3`;
 * `/server`: startRegistry on port 0; `/testing`; `/r2` and `/workers`: a Worker without its
 * binding answers 503). It also type-checks a small TypeScript consumer against the shipped `.d.ts` files, and
 * runs the installed `fetch-registry` bin: `--help`, then serving on port 0 (a blob pushed and
 * pulled over HTTP, then SIGTERM and exit 0).
 *
 * Run: `node tests/support/pack_check.mjs` (exits 0 when every step passed). Set KEEP_TMP=1 to keep
 * the temporary directory.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const tmp = mkdtempSync(join(tmpdir(), "fetch-registry-pack-"));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/**
 * Runs a command; on failure prints its output and exits 1.
 * @param {string} step what the command is for
 * @param {string} cmd the program
 * @param {string[]} args its arguments
 * @param {string} cwd where to run it
 * @returns {string} its standard output
 */
function run(step, cmd, args, cwd) {
  const started = Date.now();
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false" },
    timeout: 300_000,
  });
  const ms = Date.now() - started;
  if (r.status !== 0) {
    console.log(`FAIL ${step}: ${cmd} ${args.join(" ")} (exit ${r.status ?? r.signal}, ${ms} ms)`);
    if (r.error) console.log(String(r.error));
    console.log(r.stdout);
    console.log(r.stderr);
    finish(1);
  }
  console.log(`ok   ${step} (${ms} ms)`);
  return r.stdout;
}

/**
 * Starts the installed CLI on port 0 with memory storage, pushes and pulls a blob over HTTP, then
 * stops it with SIGTERM and expects exit 0. Fails the check (exit 1) otherwise.
 * @param {string} bin the installed bin
 * @param {string} cwd where to run it
 */
async function serveCheck(bin, cwd) {
  const started = Date.now();
  const child = spawn(bin, ["--port", "0", "--storage", "memory"], {
    cwd,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((done) => child.on("close", (code, signal) => done(code ?? signal)));
  const address = await new Promise((done) => {
    const timer = setTimeout(() => done(undefined), 15_000);
    const onData = (chunk) => {
      output += chunk;
      const m = /(http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        done(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    exited.then(() => done(undefined));
  });
  const failServe = (message) => {
    child.kill("SIGKILL");
    console.log(`FAIL ${pkg.name} --port 0 --storage memory: ${message}`);
    console.log(output);
    finish(1);
  };
  if (!address) return failServe("printed no http://127.0.0.1:PORT address within 15 s");
  try {
    const blob = new TextEncoder().encode("served by the installed bin\n");
    const digest = "sha256:" + createHash("sha256").update(blob).digest("hex");
    const push = await fetch(`${address}/v2/smoke/bin/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: blob,
      headers: { "Content-Type": "application/octet-stream" },
    });
    await push.arrayBuffer();
    if (push.status !== 201) return failServe(`blob push over HTTP answered ${push.status}`);
    const pull = await fetch(`${address}/v2/smoke/bin/blobs/${digest}`);
    const bytes = new Uint8Array(await pull.arrayBuffer());
    const got = "sha256:" + createHash("sha256").update(bytes).digest("hex");
    if (pull.status !== 200 || got !== digest) {
      return failServe(`blob pull over HTTP answered ${pull.status} with ${got}`);
    }
  } catch (error) {
    return failServe(String(error));
  }
  child.kill("SIGTERM");
  const code = await Promise.race([
    exited,
    new Promise((done) => setTimeout(done, 15_000, "timeout")),
  ]);
  if (code !== 0) return failServe(`after SIGTERM: exit ${code} (expected 0)`);
  console.log(
    `ok   ${pkg.name} served ${address}: blob pushed and pulled over HTTP, SIGTERM exit 0 ` +
      `(${Date.now() - started} ms)`,
  );
}

/** @param {number} code exit code */
function finish(code) {
  if (process.env.KEEP_TMP) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}

const entry = join(ROOT, "dist", "mod.js");
if (!existsSync(entry)) {
  console.log(`FAIL ${entry} is missing: run \`npm run build\` first`);
  finish(1);
}

// 1. npm pack
const packed = JSON.parse(
  run("npm pack", npm, ["pack", "--json", "--pack-destination", tmp], ROOT),
);
const { filename, files, size } = packed[0];
const shipped = files.map((f) => f.path);
console.log(`     ${filename}: ${shipped.length} files, ${(size / 1024).toFixed(1)} kB packed`);
for (const required of ["package.json", "dist/mod.js", "dist/mod.d.ts"]) {
  if (!shipped.includes(required)) {
    console.log(`FAIL the tarball lacks ${required}`);
    finish(1);
  }
}
const stray = shipped.filter((p) => /\.ts$/.test(p) && !p.endsWith(".d.ts"));
if (stray.length) {
  console.log(`FAIL the tarball ships TypeScript sources: ${stray.join(", ")}`);
  finish(1);
}
/** Relative imports (`./x.js`, `../y.js`) of a built module, resolved against its path. */
function relativeImports(path) {
  const text = readFileSync(join(ROOT, path), "utf8");
  const out = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.\.?\/[^"']+)["']/g)) {
    out.push(join(dirname(path), m[1]).replaceAll("\\", "/"));
  }
  return out;
}
/** Every file the exports and the bin load: their modules, declarations and what those import. */
function neededFiles() {
  const roots = [];
  for (const target of Object.values(pkg.exports ?? {})) {
    if (typeof target === "string") roots.push(target);
    else roots.push(...Object.values(target));
  }
  roots.push(...Object.values(typeof pkg.bin === "string" ? { bin: pkg.bin } : (pkg.bin ?? {})));
  const needed = new Set();
  const queue = roots.map((p) => p.replace(/^\.\//, ""));
  while (queue.length > 0) {
    const path = queue.pop();
    if (needed.has(path)) continue;
    needed.add(path);
    if (!existsSync(join(ROOT, path))) continue;
    if (path.endsWith(".js")) {
      const types = path.replace(/\.js$/, ".d.ts");
      if (existsSync(join(ROOT, types))) queue.push(types);
    }
    if (path.endsWith(".js") || path.endsWith(".d.ts")) {
      for (const imported of relativeImports(path)) {
        // A declaration imports `./x.js`, meaning x.d.ts; a type-only module has no x.js.
        if (existsSync(join(ROOT, imported))) queue.push(imported);
        const types = imported.replace(/\.js$/, ".d.ts");
        if (types !== imported && existsSync(join(ROOT, types))) queue.push(types);
      }
    }
  }
  for (const extra of ["package.json", "README.md", "LICENSE"]) needed.add(extra);
  return needed;
}
const needed = neededFiles();
const extra = shipped.filter((p) => !needed.has(p));
const missing = [...needed].filter((p) => !shipped.includes(p));
if (extra.length || missing.length) {
  if (extra.length) console.log(`FAIL the tarball ships files nothing needs: ${extra.join(", ")}`);
  if (missing.length) console.log(`FAIL the tarball lacks needed files: ${missing.join(", ")}`);
  finish(1);
}
console.log(
  `ok   the tarball ships exactly what the exports and the bin load (${needed.size} files)`,
);
const bins = typeof pkg.bin === "string" ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});
/** Bins the tarball really contains; the others fail the check at the end. */
const shippedBins = [];
const missingBins = [];
for (const [name, path] of Object.entries(bins)) {
  if (shipped.includes(path.replace(/^\.\//, ""))) shippedBins.push(name);
  else missingBins.push(`bin ${name} points at ${path}, which the tarball does not contain`);
}

// 2. install the tarball into a fresh project
const consumer = join(tmp, "consumer");
run("mkdir", "mkdir", ["-p", consumer], tmp);
writeFileSync(
  join(consumer, "package.json"),
  JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2),
);
run(
  "npm install <tarball>",
  npm,
  [
    "install",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    "--prefer-offline",
    join(tmp, filename),
  ],
  consumer,
);

// 3. plain node: import, create, push and pull through fetch
writeFileSync(
  join(consumer, "smoke.mjs"),
  `import { createHash } from "node:crypto";
import * as mod from "fetch-registry";

const fail = (message) => { console.error(message); process.exit(1); };
if (typeof mod.createRegistry !== "function") fail("createRegistry is not exported");
const registry = mod.createRegistry();
const origin = "http://registry.test";
const sha256 = (bytes) => "sha256:" + createHash("sha256").update(bytes).digest("hex");
const call = async (method, path, body, headers = {}) =>
  await registry.fetch(new Request(origin + path, { method, body, headers }));

const base = await call("GET", "/v2/");
if (base.status !== 200) fail("GET /v2/ answered " + base.status);

const blob = new TextEncoder().encode("hello from the packed tarball\\n");
const digest = sha256(blob);
const put = await call("POST", "/v2/smoke/test/blobs/uploads/?digest=" + digest, blob, {
  "Content-Type": "application/octet-stream",
  "Content-Length": String(blob.length),
});
if (put.status !== 201) fail("blob push answered " + put.status + ": " + (await put.text()));
if (put.headers.get("Docker-Content-Digest") !== digest) fail("blob push: wrong Docker-Content-Digest");

const got = await call("GET", "/v2/smoke/test/blobs/" + digest);
const bytes = new Uint8Array(await got.arrayBuffer());
if (got.status !== 200) fail("blob pull answered " + got.status);
if (sha256(bytes) !== digest) fail("blob pull returned different bytes");

const config = new TextEncoder().encode("{}");
await call("POST", "/v2/smoke/test/blobs/uploads/?digest=" + sha256(config), config);
const manifest = new TextEncoder().encode(JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(config), size: 2 },
  layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest, size: blob.length }],
}));
const mput = await call("PUT", "/v2/smoke/test/manifests/v1", manifest, {
  "Content-Type": "application/vnd.oci.image.manifest.v1+json",
});
if (mput.status !== 201) fail("manifest push answered " + mput.status + ": " + (await mput.text()));
const mget = await call("GET", "/v2/smoke/test/manifests/v1", undefined, {
  Accept: "application/vnd.oci.image.manifest.v1+json",
});
const mbytes = new Uint8Array(await mget.arrayBuffer());
if (mget.status !== 200 || sha256(mbytes) !== sha256(manifest)) fail("manifest pull failed: " + mget.status);

const testing = await import("fetch-registry/testing");
if (typeof testing.createTestRegistry !== "function") fail("fetch-registry/testing: createTestRegistry is not exported");
const fake = testing.createTestRegistry();
const fakeBase = await fake.fetch(new Request(origin + "/v2/"));
if (fakeBase.status !== 200) fail("fetch-registry/testing: GET /v2/ answered " + fakeBase.status);

// Every subpath.
const { mkdtempSync, rmSync } = await import("node:fs");
const { tmpdir } = await import("node:os");
const { join } = await import("node:path");
const fsMod = await import("fetch-registry/fs");
if (typeof fsMod.fsStorage !== "function") fail("fetch-registry/fs: fsStorage is not exported");
const root = mkdtempSync(join(tmpdir(), "fetch-registry-smoke-"));
try {
  const onDisk = mod.createRegistry({ storage: fsMod.fsStorage({ root }) });
  const fsPut = await onDisk.fetch(new Request(origin + "/v2/smoke/fs/blobs/uploads/?digest=" + digest, {
    method: "POST", body: blob, headers: { "Content-Type": "application/octet-stream" },
  }));
  if (fsPut.status !== 201) fail("fetch-registry/fs: blob push answered " + fsPut.status);
  const fsGet = await onDisk.fetch(new Request(origin + "/v2/smoke/fs/blobs/" + digest));
  if (sha256(new Uint8Array(await fsGet.arrayBuffer())) !== digest) fail("fetch-registry/fs: pull failed");
} finally {
  rmSync(root, { recursive: true, force: true });
}
const s3Mod = await import("fetch-registry/s3");
if (typeof s3Mod.s3Storage !== "function") fail("fetch-registry/s3: s3Storage is not exported");
const s3 = s3Mod.s3Storage({
  endpoint: "http://127.0.0.1:9", bucket: "b", region: "us-east-1", accessKeyId: "k", secretAccessKey: "s",
});
if (typeof s3.blobs.stat !== "function") fail("fetch-registry/s3: s3Storage gave no blob store");
const server = await import("fetch-registry/server");
for (const name of ["startRegistry", "serve", "serveNode", "serveDeno", "serveBun", "detectRuntime", "formatRequestLog"]) {
  if (typeof server[name] !== "function") fail("fetch-registry/server: " + name + " is not exported");
}
const running = await server.startRegistry({ port: 0 });
const served = await fetch(running.url + "/v2/");
await served.arrayBuffer();
await running.close();
if (served.status !== 200) fail("fetch-registry/server: GET /v2/ answered " + served.status);
const r2Mod = await import("fetch-registry/r2");
if (typeof r2Mod.r2Storage !== "function") fail("fetch-registry/r2: r2Storage is not exported");
const workers = await import("fetch-registry/workers");
if (typeof workers.createWorker !== "function") fail("fetch-registry/workers: createWorker is not exported");
const unbound = await workers.createWorker().fetch(new Request("http://registry.test/v2/"), {});
if (unbound.status !== 503) fail("fetch-registry/workers: a Worker without its binding answered " + unbound.status);
for (const name of ["fsStorage", "s3Storage", "r2Storage", "createWorker", "startRegistry", "serve", "serveNode"]) {
  if (name in mod) fail("fetch-registry exports " + name + ": the core entry must stay slim");
}
console.log("pushed and pulled " + digest + " and manifest " + sha256(manifest) + "; /fs, /s3, /r2, /workers, /server, /testing load");
`,
);
console.log(
  run("node smoke.mjs (plain node, built package)", process.execPath, ["smoke.mjs"], consumer)
    .trim().replace(/^/gm, "     "),
);

// 4. the shipped declarations type-check in a TypeScript consumer
writeFileSync(
  join(consumer, "check.ts"),
  `import { createRegistry, type RegistryOptions, type Storage } from "fetch-registry";
import { fsStorage, type FsStorageOptions } from "fetch-registry/fs";
import { s3Storage, type S3StorageOptions } from "fetch-registry/s3";
import { startRegistry, type StartRegistryOptions } from "fetch-registry/server";
import { createTestRegistry } from "fetch-registry/testing";
import { r2Storage, type R2Bucket } from "fetch-registry/r2";
import { createWorker, type RegistryWorker } from "fetch-registry/workers";
export const r2 = (bucket: R2Bucket): Storage => r2Storage(bucket, { prefix: "p" });
export const worker: RegistryWorker = createWorker({ binding: "B", registry: () => ({ readOnly: true }) });
const fsOptions: FsStorageOptions = { root: "/tmp/x" };
const s3Options: S3StorageOptions = {
  endpoint: "http://127.0.0.1:9", bucket: "b", region: "r", accessKeyId: "k", secretAccessKey: "s",
};
const storages: Storage[] = [fsStorage(fsOptions), s3Storage(s3Options)];
const start: StartRegistryOptions = { port: 0, storage: storages[0] };
export const started: ReturnType<typeof startRegistry> = startRegistry(start);
const options: RegistryOptions = {};
const registry = createRegistry(options);
const response: Promise<Response> = registry.fetch(new Request("http://registry.test/v2/"));
const fake = createTestRegistry();
const fakeResponse: Promise<Response> = fake.fetch(new Request("http://registry.test/v2/"));
export { fakeResponse, response };
`,
);
writeFileSync(
  join(consumer, "tsconfig.json"),
  JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023", "DOM", "DOM.Iterable"],
        strict: true,
        noEmit: true,
        typeRoots: [join(ROOT, "node_modules", "@types")],
        types: ["node"],
      },
      files: ["check.ts"],
    },
    null,
    2,
  ),
);
run("tsc: a TypeScript consumer of the shipped .d.ts", join(ROOT, "node_modules", ".bin", "tsc"), [
  "-p",
  ".",
], consumer);

// 5. the bin, when there is one
for (const name of shippedBins) {
  const help = run(
    `${name} --help (installed bin)`,
    join(consumer, "node_modules", ".bin", name),
    ["--help"],
    consumer,
  );
  const sources = help.match(/\blib\/[\w/]+\.ts\b/g);
  if (sources) {
    console.log(`FAIL ${name} --help names files the package lacks: ${sources.join(", ")}`);
    finish(1);
  }
  const version = run(
    `${name} --version (installed bin)`,
    join(consumer, "node_modules", ".bin", name),
    ["--version"],
    consumer,
  ).trim();
  if (version !== `${pkg.name} ${pkg.version}`) {
    console.log(`FAIL ${name} --version printed "${version}", not "${pkg.name} ${pkg.version}"`);
    finish(1);
  }
}

// 6. the bin serves over HTTP on plain node: push and pull a blob, then a graceful SIGTERM
if (shippedBins.includes(pkg.name)) {
  await serveCheck(join(consumer, "node_modules", ".bin", pkg.name), consumer);
}

if (missingBins.length) {
  for (const message of missingBins) console.log(`FAIL ${message}`);
  finish(1);
}

console.log("pack check passed");
finish(0);
