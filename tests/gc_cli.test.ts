/**
 * Garbage collection from the command line, spawned on the runtime running this file:
 * `fetch-registry gc` on an fs storage (summary, progress, dry run, usage errors), kill -9 in the
 * middle of a collection and a second run that finishes it, and the server's `--gc-interval` and
 * `--upload-ttl` flags.
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { parseArgs } from "../lib/cli/args.ts";
import { formatDuration, parseDuration } from "../lib/cli/duration.ts";
import { parseGcArgs } from "../lib/cli/gc_command.ts";
import { detectRuntime } from "../lib/server/serve.ts";
import { fsStorage } from "../lib/storage/fs/mod.ts";
import type { CollectableStorage } from "../lib/storage/types.ts";
import { pushBlob } from "../lib/testing/contract_support.ts";
import { digestOf } from "../lib/testing/content.ts";
import { MEDIA_TYPES } from "../lib/testing/media_types.ts";
import { spawnCli } from "./support/cli_process.ts";

const encoder = new TextEncoder();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const test = suite(`gc cli (${detectRuntime()})`);

let root = "";
test.before.each(() => {
  root = mkdtempSync(join(tmpdir(), "gc-cli-"));
});
test.after.each(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** Push an image of `layers` fresh layers to `repo`, tagged `tag` if given. */
async function image(s: CollectableStorage, repo: string, tag?: string, layers = 1) {
  const blobs: string[] = [];
  for (let i = 0; i <= layers; i++) {
    blobs.push(await pushBlob(s, repo, encoder.encode(`blob ${++n} ${Math.random()}`)));
  }
  const bytes = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: blobs[0], size: 1 },
    layers: blobs.slice(1).map((digest) => ({ mediaType: "x/y", digest, size: 1 })),
  }));
  const digest = digestOf(bytes);
  await s.manifests.put(repo, { digest, mediaType: MEDIA_TYPES.manifest, bytes });
  if (tag) await s.tags.set(repo, tag, digest);
  return { digest, blobs };
}

/** Every manifest of every repository references only blobs it can read. */
async function assertConsistent(s: CollectableStorage): Promise<number> {
  let manifests = 0;
  for (const repo of (await s.repositories({ limit: 1000 })).items) {
    for await (const m of s.manifests.list(repo)) {
      manifests++;
      const record = await s.manifests.get(repo, m.digest);
      const json = JSON.parse(new TextDecoder().decode(record!.bytes));
      for (const d of [json.config, ...json.layers]) {
        assert.ok(await s.blobs.stat(repo, d.digest), `${repo}@${m.digest} → ${d.digest}`);
      }
    }
  }
  return manifests;
}

test("durations and flags", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("250ms"), 250);
  for (const bad of ["", "1", "1.5h", "-1s", "1w", "h", " 1h"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
  assert.equal(formatDuration(3_723_000), "1h 2m");
  assert.equal(formatDuration(1500), "1.5 s");
  const gc = parseGcArgs(["--storage=fs:x", "--grace", "0s", "--untagged", "--dry-run"]);
  assert.deepEqual(gc, {
    storage: "fs:x",
    graceMs: 0,
    untagged: true,
    dryRun: true,
    uploadTtlMs: 86_400_000,
    help: false,
  });
  assert.equal(parseGcArgs([]).graceMs, 3_600_000);
  assert.throws(() => parseGcArgs(["--grace", "soon"]), /--grace must be a duration/);
  assert.throws(() => parseGcArgs(["--policy", "x"]), /unknown flag --policy/);
  const server = parseArgs(["--gc-interval", "10m", "--upload-ttl=2h"]);
  assert.equal(server.gcIntervalMs, 600_000);
  assert.equal(server.uploadTtlMs, 7_200_000);
  assert.equal(parseArgs([]).gcIntervalMs, undefined);
  assert.throws(() => parseArgs(["--gc-interval", "0s"]), /--gc-interval must be a duration/);
  assert.throws(() => parseArgs(["--upload-ttl"]), /--upload-ttl needs a value/);
});

test("gc: a summary on stdout, progress on stderr; a dry run deletes nothing", async () => {
  const s = fsStorage({ root });
  const kept = await image(s, "app", "v1");
  const loose = await image(s, "app");
  await pause(20);
  const dry = spawnCli([
    "gc",
    "--storage",
    `fs:${root}`,
    "--grace",
    "0s",
    "--untagged",
    "--dry-run",
  ]);
  assert.equal(await dry.exited, 0, dry.output());
  assert.match(dry.stdout(), /^manifests: 1 kept, 1 would be deleted$/m);
  assert.match(dry.stderr(), new RegExp(`would delete manifest app@${loose.digest}`));
  assert.ok(await s.manifests.get("app", loose.digest), "dry run: still there");

  const real = spawnCli(["gc", "--storage", `fs:${root}`, "--grace=0s", "--untagged"]);
  assert.equal(await real.exited, 0, real.output());
  const out = real.stdout();
  assert.match(out, /^repositories: 1$/m);
  assert.match(out, /^manifests: 1 kept, 1 deleted$/m);
  assert.match(out, /^blob links: 2 kept, 2 deleted$/m);
  assert.match(out, /^blobs: 2 kept, 2 deleted$/m);
  assert.match(out, /^bytes freed: \d+ B$/m);
  assert.match(out, /^duration: /m);
  assert.match(real.stderr(), /^gc: repository app$/m);
  assert.match(
    real.stderr(),
    new RegExp(`^gc: deleted blob ${loose.blobs[1]} \\(\\d+ bytes\\)$`, "m"),
  );
  assert.equal(await s.manifests.get("app", loose.digest), undefined);
  assert.ok(await s.manifests.get("app", kept.digest));
  assert.equal(await assertConsistent(s), 1);

  const usage = spawnCli(["gc", "--grace", "soon"]);
  assert.equal(await usage.exited, 2);
  assert.match(usage.stderr(), /--grace must be a duration/);
});

test("gc: kill -9 mid-collection leaves a consistent registry; a second run finishes", async () => {
  const s = fsStorage({ root });
  const tagged = [];
  for (let i = 0; i < 5; i++) tagged.push(await image(s, `keep${i}`, "v1", 2));
  for (let i = 0; i < 60; i++) await image(s, `drop${i % 6}`, undefined, 2);
  await pause(20);
  const first = spawnCli(["gc", "--storage", `fs:${root}`, "--grace", "0s", "--untagged"]);
  await first.waitFor(/deleted link/, 60_000);
  await first.kill();
  assert.equal(await first.exited, "SIGKILL");
  assert.doesNotMatch(first.stdout(), /^blobs: /m, "killed before its summary");
  const midway = await assertConsistent(s);
  assert.ok(midway > 5, `killed with untagged manifests left (${midway})`);

  const second = spawnCli(["gc", "--storage", `fs:${root}`, "--grace", "0s", "--untagged"]);
  assert.equal(await second.exited, 0, second.output());
  assert.match(second.stdout(), /^errors: 0$/m);
  assert.equal(await assertConsistent(s), 5, "only the tagged manifests are left");
  const stored = new Set<string>();
  for await (const b of s.blobs.list()) stored.add(b.digest);
  assert.deepEqual(stored, new Set(tagged.flatMap((t) => t.blobs)), "only their content is left");
  const third = spawnCli(["gc", "--storage", `fs:${root}`, "--grace", "0s", "--untagged"]);
  assert.equal(await third.exited, 0);
  assert.match(third.stdout(), /^blobs: 15 kept, 0 deleted$/m);
});

test("serve --gc-interval collects in the background; --upload-ttl is the session lifetime", async () => {
  const s = fsStorage({ root });
  await image(s, "app");
  const server = spawnCli([
    "--port",
    "0",
    "--storage",
    `fs:${root}`,
    "--gc-interval",
    "200ms",
    "--upload-ttl",
    "1s",
  ]);
  try {
    const [, url] = await server.waitFor(/listening on (http:\/\/[^ ]+)/);
    const post = await fetch(`${url}/v2/a/blobs/uploads/`, { method: "POST" });
    assert.equal(post.status, 202);
    const location = new URL(post.headers.get("Location")!, url).href;
    assert.equal((await fetch(location)).status, 204);
    await pause(1100);
    assert.equal((await fetch(location)).status, 404, "expired after --upload-ttl");
    await server.waitFor(/^fetch-registry: gc: 0 manifests, 0 links, 0 blobs \(0 bytes\) deleted/);
  } finally {
    await server.stop();
  }
});

test.run();
