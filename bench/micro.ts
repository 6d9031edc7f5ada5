/**
 * Microbenchmarks (mitata), run the same on every runtime:
 *
 * ```sh
 * npx tsx bench/micro.ts          # mitata's own report
 * deno run -A bench/micro.ts
 * bun bench/micro.ts --json       # one JSON line (what bench/run.ts collects)
 * ```
 *
 * - route matching: lib/router.ts (itty-router's compiled table) against a hand-written regex
 *   table, over a mix of registry paths; both must agree on every sample path.
 * - digest parsing: `parseDigest` on sha256, sha512 and malformed input.
 * - hashing throughput: node:crypto `createHash` sha256 and sha512 over 1 MiB (one update, and in
 *   64 KiB updates as a streamed upload feeds it), and WebCrypto's one-shot SHA-256 for reference.
 * - reading a manifest-sized file: `fs.promises.readFile` (four thread-pool round trips: open,
 *   fstat, read, close) against `fs.readFileSync`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { mkdtempSync, promises as fsp, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { parseDigest } from "../lib/grammar.ts";
import { createRouter } from "../lib/router.ts";

const HEX64 = "0123456789abcdef".repeat(4);
const HEX128 = HEX64 + HEX64;

/** Sample request paths, with the route each must match. */
const PATHS: ReadonlyArray<readonly [string, string]> = [
  ["/v2/", "base"],
  ["/v2/library/alpine/manifests/latest", "manifest"],
  [`/v2/library/alpine/manifests/sha256:${HEX64}`, "manifest"],
  [`/v2/org/team/app/blobs/sha256:${HEX64}`, "blob"],
  ["/v2/org/app/blobs/uploads/", "uploads"],
  ["/v2/org/app/blobs/uploads/Zx8_kq-2b9ZrQ1yA", "upload"],
  ["/v2/org/app/tags/list", "tags"],
  ["/v2/_catalog", "catalog"],
  [`/v2/a/referrers/sha256:${HEX64}`, "referrers"],
];

/** The alternative measured against itty-router: one anchored regex per route, in match order. */
const REGEX_TABLE: ReadonlyArray<readonly [string, RegExp, ReadonlySet<string>]> = [
  ["base", /^\/v2\/?$/, new Set(["GET", "HEAD"])],
  ["catalog", /^\/v2\/_catalog\/?$/, new Set(["GET", "HEAD"])],
  ["uploads", /^\/v2\/(?<name>.+?)\/blobs\/uploads\/?$/, new Set(["POST"])],
  [
    "upload",
    /^\/v2\/(?<name>.+?)\/blobs\/uploads\/(?<id>[^/]+)\/?$/,
    new Set(["GET", "HEAD", "PATCH", "PUT", "DELETE"]),
  ],
  ["blob", /^\/v2\/(?<name>.+?)\/blobs\/(?<digest>[^/]+)\/?$/, new Set(["GET", "HEAD", "DELETE"])],
  [
    "manifest",
    /^\/v2\/(?<name>.+?)\/manifests\/(?<reference>[^/]+)\/?$/,
    new Set(["GET", "HEAD", "PUT", "DELETE"]),
  ],
  ["tags", /^\/v2\/(?<name>.+?)\/tags\/list\/?$/, new Set(["GET", "HEAD"])],
  ["referrers", /^\/v2\/(?<name>.+?)\/referrers\/(?<digest>[^/]+)\/?$/, new Set(["GET", "HEAD"])],
];

function regexMatch(method: string, pathname: string) {
  for (const [route, regexp, methods] of REGEX_TABLE) {
    const m = regexp.exec(pathname);
    if (m) return { route, params: { ...m.groups }, allowed: methods.has(method) };
  }
  return undefined;
}

const router = createRouter("");
for (const [path, route] of PATHS) {
  const a = router.match("GET", path);
  const b = regexMatch("GET", path);
  if (
    a?.route !== route || b?.route !== route ||
    JSON.stringify(a.params) !== JSON.stringify(b.params)
  ) {
    throw new Error(`routers disagree on ${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}

const DIGESTS = [`sha256:${HEX64}`, `sha512:${HEX128}`, "sha256:XYZ", "md5:abc"];
const MIB = 1024 * 1024;
const data = new Uint8Array(MIB).map((_, i) => (i * 2654435761) >>> 24);
const PIECE = 64 * 1024;

/** Benchmarks that process `bytes` per iteration (reported as MB/s as well). */
const THROUGHPUT: Record<string, number> = {};

group("route matching (per path, 9-path mix)", () => {
  summary(() => {
    bench("lib/router.ts (itty-router)", () => {
      for (const [path] of PATHS) do_not_optimize(router.match("GET", path));
    });
    bench("hand-written regex table", () => {
      for (const [path] of PATHS) do_not_optimize(regexMatch("GET", path));
    });
  });
});

group("digest parsing (4-digest mix)", () => {
  bench("parseDigest", () => {
    for (const d of DIGESTS) do_not_optimize(parseDigest(d));
  });
});

group("hashing 1 MiB", () => {
  for (const alg of ["sha256", "sha512"]) {
    THROUGHPUT[`${alg} createHash, 1 MiB update`] = MIB;
    bench(`${alg} createHash, 1 MiB update`, () => {
      do_not_optimize(createHash(alg).update(data).digest());
    });
    THROUGHPUT[`${alg} createHash, 64 KiB updates`] = MIB;
    bench(`${alg} createHash, 64 KiB updates`, () => {
      const h = createHash(alg);
      for (let off = 0; off < MIB; off += PIECE) h.update(data.subarray(off, off + PIECE));
      do_not_optimize(h.digest());
    });
  }
  THROUGHPUT["SHA-256 crypto.subtle (one-shot)"] = MIB;
  bench("SHA-256 crypto.subtle (one-shot)", async () => {
    do_not_optimize(await crypto.subtle.digest("SHA-256", data));
  });
});

// A manifest-sized file: how the fs adapter reads tags and manifests on every manifest request.
const dir = mkdtempSync(join(tmpdir(), "fetch-registry-micro-"));
const small = join(dir, "manifest.json");
writeFileSync(small, new Uint8Array(600).fill(120));
group("reading a 600-byte file (a manifest)", () => {
  summary(() => {
    bench("fs.promises.readFile", async () => {
      do_not_optimize(await fsp.readFile(small));
    });
    bench("fs.readFileSync", () => {
      do_not_optimize(readFileSync(small));
    });
  });
});

/** Per-operation divisor of each multi-item benchmark (so results read per path / per digest). */
const PER: Record<string, number> = {
  "lib/router.ts (itty-router)": PATHS.length,
  "hand-written regex table": PATHS.length,
  parseDigest: DIGESTS.length,
};

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

const json = process.argv.includes("--json");
const out = await run(json ? { format: "quiet" } : {});
rmSync(dir, { recursive: true, force: true });
if (json) {
  const results = [];
  for (const trial of out.benchmarks) {
    for (const r of trial.runs) {
      if (!r.stats) {
        results.push({ name: r.name, error: String(r.error) });
        continue;
      }
      const per = PER[r.name] ?? 1;
      const bytes = THROUGHPUT[r.name];
      results.push({
        name: r.name,
        avgNs: r.stats.avg / per,
        p99Ns: r.stats.p99 / per,
        per,
        mbPerS: bytes ? bytes / MIB / (r.stats.avg / 1e9) : undefined,
      });
    }
  }
  console.log(JSON.stringify({ runtime: runtime(), results }));
}
