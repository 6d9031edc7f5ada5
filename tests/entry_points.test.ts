/**
 * What each entry point of the package loads (tests/support/module_graph.ts, esbuild's resolver).
 *
 * The core (`fetch-registry`, mod.ts) is pinned exactly: a module or package it starts to load
 * fails this test, naming it, until the list below says it belongs there. The other entry points
 * are held to their boundaries: no node:http, S3 client or file system where they do not belong,
 * no CLI module in any of them, and the packages each may use.
 */
import assert from "node:assert/strict";
import { suite } from "uvu";
import { moduleGraph, PACKAGE_ENTRIES } from "./support/module_graph.ts";

const test = suite("entry points: the modules each one loads");

/** Everything `fetch-registry` (mod.ts) loads: the handler core and the memory adapter. */
const CORE_MODULES = [
  "lib/auth/basic.ts",
  "lib/auth/basic_mode.ts",
  "lib/auth/bcrypt.ts",
  "lib/auth/bearer.ts",
  "lib/auth/catalog_view.ts",
  "lib/auth/challenge.ts",
  "lib/auth/guard.ts",
  "lib/auth/htpasswd.ts",
  "lib/auth/jose_loader.ts",
  "lib/auth/keyed_hash.ts",
  "lib/auth/keys.ts",
  "lib/auth/permissions.ts",
  "lib/auth/policy.ts",
  "lib/auth/route_access.ts",
  "lib/auth/scope.ts",
  "lib/auth/token_mode.ts",
  "lib/auth/token_service.ts",
  "lib/auth/types.ts",
  "lib/body.ts",
  "lib/conditional.ts",
  "lib/errors.ts",
  "lib/grammar.ts",
  "lib/hashing.ts",
  "lib/manifest.ts",
  "lib/media_types.ts",
  "lib/range.ts",
  "lib/registry.ts",
  "lib/responses.ts",
  "lib/router.ts",
  "lib/routes/blobs.ts",
  "lib/routes/listing.ts",
  "lib/routes/manifests.ts",
  "lib/routes/params.ts",
  "lib/routes/referrers.ts",
  "lib/routes/uploads.ts",
  "lib/runtime.ts",
  "lib/storage/capabilities.ts",
  "lib/storage/memory.ts",
  "lib/storage/memory_lease.ts",
  "lib/storage/paging.ts",
  "lib/storage/types.ts",
  "lib/url_builder.ts",
  "mod.ts",
];
/** The packages and builtins the core imports. */
const CORE_EXTERNAL = ["itty-router", "node:crypto"];
/**
 * Packages the core loads only on first use, with a dynamic `import()`: jose (JWT/JWKS) and
 * hash-wasm (bcrypt, HMAC) once access control checks a token or a password.
 */
const CORE_LAZY = ["hash-wasm", "jose"];

/** Differences between what an entry loads and what it may, one line each. */
function differences(what: string, got: string[], expected: string[]): string[] {
  const lines: string[] = [];
  for (const m of got) if (!expected.includes(m)) lines.push(`${what} now loads ${m}`);
  for (const m of expected) if (!got.includes(m)) lines.push(`${what} no longer loads ${m}`);
  return lines;
}

/** Modules or imports in `got` that match none of `allowed`, one line each. */
function outside(what: string, got: string[], allowed: RegExp[]): string[] {
  return got.filter((m) => !allowed.some((a) => a.test(m))).map((m) => `${what} loads ${m}`);
}

test("fetch-registry (mod.ts) loads exactly the core and the memory adapter", async () => {
  const graph = await moduleGraph(PACKAGE_ENTRIES["."]);
  const problems = [
    ...differences("mod.ts", graph.local, CORE_MODULES),
    ...differences("mod.ts", graph.external, CORE_EXTERNAL),
    ...differences("mod.ts (lazily)", graph.lazy, CORE_LAZY),
  ];
  assert.deepEqual(
    problems,
    [],
    `the core's dependencies changed (update CORE_MODULES / CORE_EXTERNAL / CORE_LAZY in ` +
      `tests/entry_points.test.ts only if the core really needs it):\n${problems.join("\n")}`,
  );
});

/** Shared storage modules an adapter may load besides its own folder. */
const ADAPTER_SHARED = [
  /^lib\/storage\/(types|paging|concat_stream|bucket_keys)\.ts$/,
  /^lib\/grammar\.ts$/,
  /^lib\/runtime\.ts$/,
];

test("fetch-registry/fs loads its own folder, the shared storage modules and node builtins", async () => {
  const graph = await moduleGraph(PACKAGE_ENTRIES["./fs"]);
  const problems = [
    ...outside("fetch-registry/fs", graph.local, [/^lib\/storage\/fs\//, ...ADAPTER_SHARED]),
    ...outside("fetch-registry/fs", graph.external, [/^node:(?!http)/]),
  ];
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(graph.local.includes("lib/storage/fs/mod.ts"));
});

test("fetch-registry/s3 loads its own folder, the S3 client and aws4fetch", async () => {
  const graph = await moduleGraph(PACKAGE_ENTRIES["./s3"]);
  const problems = [
    ...outside("fetch-registry/s3", graph.local, [
      /^lib\/storage\/s3\//,
      /^lib\/s3\//,
      ...ADAPTER_SHARED,
    ]),
    ...outside("fetch-registry/s3", graph.external, [/^aws4fetch$/, /^node:crypto$/]),
  ];
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(graph.local.includes("lib/s3/client.ts"));
});

test("fetch-registry/r2 loads its own folder and the storage types: no node: module, no package", async () => {
  // It runs inside a Worker: only Web APIs and the R2 binding.
  const graph = await moduleGraph(PACKAGE_ENTRIES["./r2"]);
  const problems = [
    ...outside("fetch-registry/r2", graph.local, [/^lib\/storage\/r2\//, ...ADAPTER_SHARED]),
    ...outside("fetch-registry/r2", graph.external, []),
  ];
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(graph.local.includes("lib/storage/r2/mod.ts"));
});

test("fetch-registry/workers loads the core and the R2 adapter; of node: only node:crypto", async () => {
  const graph = await moduleGraph(PACKAGE_ENTRIES["./workers"]);
  const problems = [
    ...graph.local.filter((m) => /^lib\/(server|cli|s3|storage\/(fs|s3))\//.test(m)).map((m) =>
      `fetch-registry/workers loads ${m}`
    ),
    ...outside("fetch-registry/workers", graph.external, [/^itty-router$/, /^node:crypto$/]),
  ];
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(graph.local.includes("lib/storage/r2/mod.ts"));
  assert.ok(graph.local.includes("lib/registry.ts"));
});

test("fetch-registry/observe loads its own folder, the router and storage types; no node: module", async () => {
  // Metrics, events, health and logs run wherever the handler runs, Workers included.
  const graph = await moduleGraph(PACKAGE_ENTRIES["./observe"]);
  const problems = [
    ...outside("fetch-registry/observe", graph.local, [
      /^lib\/observe\//,
      /^lib\/router\.ts$/,
      /^lib\/storage\/types\.ts$/,
    ]),
    ...outside("fetch-registry/observe", graph.external, [/^itty-router$/]),
  ];
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(graph.local.includes("lib/observe/with_metrics.ts"));
});

test("fetch-registry/gc loads the collector and the contract's capability check only", async () => {
  const graph = await moduleGraph(PACKAGE_ENTRIES["./gc"]);
  const problems = [
    ...outside("fetch-registry/gc", graph.local, [
      /^lib\/gc\//,
      /^lib\/storage\/(capabilities|types)\.ts$/,
    ]),
    ...outside("fetch-registry/gc", graph.external, []),
  ];
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(graph.local.includes("lib/gc/collect.ts"));
});

test("fetch-registry/server and /testing load no adapter but memory, no S3 client, no CLI", async () => {
  for (const entry of ["./server", "./testing"]) {
    const graph = await moduleGraph(PACKAGE_ENTRIES[entry]);
    const name = `fetch-registry${entry.slice(1)}`;
    const problems = [
      ...graph.local.filter((m) => /^lib\/(storage\/(fs|s3)\/|s3\/|cli\/)/.test(m)).map((m) =>
        `${name} loads ${m}`
      ),
      ...outside(name, graph.external, [/^itty-router$/, /^node:/]),
    ];
    assert.deepEqual(problems, [], problems.join("\n"));
    assert.ok(graph.local.includes("lib/registry.ts"), `${name} serves the registry`);
  }
});

test("no entry point but the bin loads the CLI's modules; the bin loads every adapter", async () => {
  const bin = await moduleGraph(PACKAGE_ENTRIES.bin);
  for (const m of ["lib/cli/from_spec.ts", "lib/storage/fs/mod.ts", "lib/storage/s3/mod.ts"]) {
    assert.ok(bin.local.includes(m), `the bin should load ${m}`);
  }
  for (const [entry, path] of Object.entries(PACKAGE_ENTRIES)) {
    if (entry === "bin") continue;
    const graph = await moduleGraph(path);
    const cli = graph.local.filter((m) => m.startsWith("lib/cli/"));
    assert.deepEqual(cli, [], `${entry} loads CLI modules: ${cli.join(", ")}`);
  }
});

test("the checks see a new dependency: a module importing node:http is reported by name", () => {
  // The comparison itself, on a made-up graph: a test that could not fail would prove nothing.
  const grown = [...CORE_MODULES, "lib/server/node.ts"].sort();
  assert.deepEqual(differences("mod.ts", grown, CORE_MODULES), [
    "mod.ts now loads lib/server/node.ts",
  ]);
  assert.deepEqual(
    differences("mod.ts", [...CORE_EXTERNAL, "node:http"], CORE_EXTERNAL),
    ["mod.ts now loads node:http"],
  );
  assert.deepEqual(outside("x", ["node:fs", "node:http"], [/^node:(?!http)/]), [
    "x loads node:http",
  ]);
});

test.run();
