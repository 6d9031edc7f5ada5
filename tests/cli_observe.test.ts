/**
 * The CLI's operations flags, with the CLI as a child process on the runtime running this file:
 * `--metrics` and `--metrics-port`, `--log-format json` (request ids, no credentials), `--notify`
 * and `--notify-config` (delivery to a local sink, a bad file, flushing at SIGTERM), and the health
 * endpoints the CLI always serves.
 *
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { parseArgs, UsageError } from "../lib/cli/args.ts";
import type { EventEnvelope } from "../lib/observe/events.ts";
import { detectRuntime } from "../lib/server/serve.ts";
import { type ChildRun, LISTENING, spawnCli } from "./support/cli_process.ts";
import { configBlob, describe, OCI_CONFIG, ociManifest } from "./support/oci.ts";
import { type Sink, startSink } from "./support/sink.ts";

const RUNTIME = detectRuntime();
const test = suite(`cli observe (${RUNTIME})`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir = "";
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "fetch-registry-cli-observe-"));
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Start the CLI on a free port with memory storage and `args`; resolves with it and its URL. */
async function start(args: string[]): Promise<{ cli: ChildRun; url: string }> {
  const cli = spawnCli(["--port", "0", "--storage", "memory", ...args]);
  try {
    const [, url] = await cli.waitFor(LISTENING);
    return { cli, url };
  } catch (error) {
    await cli.kill();
    throw error;
  }
}

/** SIGTERM the CLI and assert it exits 0. */
async function stop(cli: ChildRun): Promise<void> {
  assert.equal(await cli.stop(15_000), 0, cli.output());
}

/** Push a config blob (monolithic POST) and an image manifest tagged `tag`; answers its digest. */
async function pushImage(url: string, name: string, tag: string): Promise<string> {
  const config = configBlob(`observe ${tag}`);
  const descriptor = describe(OCI_CONFIG, config);
  const blob = await fetch(`${url}/v2/${name}/blobs/uploads/?digest=${descriptor.digest}`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream" },
    body: config as BodyInit,
  });
  assert.equal(blob.status, 201, await blob.text());
  const manifest = ociManifest({ config: descriptor });
  const put = await fetch(`${url}/v2/${name}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": manifest.mediaType },
    body: manifest.bytes as BodyInit,
  });
  assert.equal(put.status, 201, await put.text());
  return manifest.digest;
}

/** GET `url` and answer status and text. */
async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text() };
}

/** Wait until `check` is true, up to `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Every event the sink received, in order. */
function eventsOf(sink: Sink) {
  return sink.received.flatMap((r) => (r.json as EventEnvelope | undefined)?.events ?? []);
}

test("the flags parse, and bad values are usage errors", () => {
  const o = parseArgs([
    "--notify",
    "http://a/",
    "--notify=http://b/",
    "--notify-config",
    "n.json",
    "--log-format=json",
    "--metrics-port",
    "9090",
  ]);
  assert.deepEqual(o.notify, ["http://a/", "http://b/"]);
  assert.equal(o.notifyConfig, "n.json");
  assert.equal(o.logFormat, "json");
  assert.equal(o.metricsPort, 9090);
  assert.equal(o.metrics, true, "--metrics-port implies --metrics");
  const plain = parseArgs([]);
  assert.deepEqual([plain.metrics, plain.logFormat, plain.notify], [false, "text", []]);
  assert.throws(() => parseArgs(["--log-format", "xml"]), /--log-format must be text or json/);
  assert.throws(() => parseArgs(["--metrics-port", "70000"]), UsageError);
  assert.throws(() => parseArgs(["--notify"]), /--notify needs a value/);
  assert.throws(() => parseArgs(["--notify="]), /--notify needs a value/);
});

test("--metrics: Prometheus text on /metrics with the request counters after a push", async () => {
  const { cli, url } = await start(["--metrics"]);
  try {
    await pushImage(url, "demo/app", "v1");
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("Content-Type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(
      text,
      /^fetch_registry_http_requests_total\{route="manifest",method="PUT",status="201"\} 1$/m,
    );
    assert.match(
      text,
      /^fetch_registry_http_requests_total\{route="uploads",method="POST",status="201"\} 1$/m,
    );
    assert.match(text, /^fetch_registry_http_request_body_bytes_total\{route="manifest"\} [1-9]/m);
    assert.match(text, /^fetch_registry_storage_operation_duration_seconds_count\{operation="/m);
    assert.match(text, /^process_resident_memory_bytes [1-9]/m);
  } finally {
    await stop(cli);
  }
});

test("--metrics-port: metrics on their own listener, not on the registry's port", async () => {
  const { cli, url } = await start(["--metrics-port", "0"]);
  try {
    const [, metricsUrl] = await cli.waitFor(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/);
    assert.notEqual(metricsUrl, url);
    await pushImage(url, "split", "v1");
    const onRegistry = await get(`${url}/metrics`);
    assert.equal(onRegistry.status, 404);
    assert.doesNotMatch(onRegistry.text, /fetch_registry_/);
    const scraped = await get(`${metricsUrl}/metrics`);
    assert.equal(scraped.status, 200);
    assert.match(
      scraped.text,
      /^fetch_registry_http_requests_total\{route="manifest",method="PUT",status="201"\} 1$/m,
    );
    // Health stays on the registry's port.
    assert.equal((await get(`${url}/healthz`)).status, 200);
  } finally {
    await stop(cli);
  }
});

test("--log-format json: one object per request, request id = X-Request-Id, no secrets", async () => {
  const { cli, url } = await start(["--log-format", "json"]);
  try {
    const secret = "s3cr3t-signature-value";
    const basic = "Basic " + btoa("alice:hunter2-password");
    const res = await fetch(
      `${url}/v2/demo/app/blobs/sha256:${"a".repeat(64)}?X-Amz-Signature=${secret}&n=3`,
      { headers: { Authorization: basic, "User-Agent": "observe-test" } },
    );
    await res.body?.cancel();
    assert.equal(res.status, 404);
    const id = res.headers.get("X-Request-Id");
    assert.ok(id, "the response carries X-Request-Id");
    const given = await fetch(`${url}/v2/`, { headers: { "X-Request-Id": "trace-42" } });
    await given.body?.cancel();
    assert.equal(given.headers.get("X-Request-Id"), "trace-42");
    await cli.waitFor(/"request_id":"trace-42"/, 10_000);
    const lines = cli.stdout().split("\n").filter((l) => l.startsWith("{"));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 2, cli.stdout());
    const [blob, root] = records;
    assert.equal(blob.request_id, id);
    assert.equal(blob.method, "GET");
    assert.equal(blob.route, "blob");
    assert.equal(blob.repository, "demo/app");
    assert.equal(blob.status, 404);
    assert.equal(
      blob.path,
      `/v2/demo/app/blobs/sha256:${"a".repeat(64)}?X-Amz-Signature=REDACTED&n=3`,
    );
    assert.equal(blob.user_agent, "observe-test");
    assert.match(String(blob.remote_addr), /^127\.0\.0\.1:\d+$/);
    assert.equal(root.route, "base");
    const all = cli.output();
    assert.ok(!all.includes(secret), "the signature never reaches the log");
    assert.ok(!all.includes("hunter2"), "the password never reaches the log");
    assert.ok(!all.includes(basic.slice(6)), "the Authorization header never reaches the log");
  } finally {
    await stop(cli);
  }
});

test("the text log redacts query values too; /healthz and /readyz always answer", async () => {
  const { cli, url } = await start([]);
  try {
    const live = await get(`${url}/healthz`);
    assert.deepEqual([live.status, JSON.parse(live.text)], [200, { status: "ok" }]);
    const ready = await get(`${url}/readyz`);
    assert.deepEqual([ready.status, JSON.parse(ready.text)], [200, { status: "ready" }]);
    const res = await fetch(`${url}/v2/x/tags/list?n=2&token=abc123secret`);
    await res.body?.cancel();
    const { input: line } = await cli.waitFor(/ GET \/v2\/x\/tags\/list\?/, 10_000);
    assert.match(line, / GET \/v2\/x\/tags\/list\?n=2&token=REDACTED 404 /);
    assert.ok(!cli.output().includes("abc123secret"));
    assert.ok(res.headers.get("X-Request-Id"), "text mode sends request ids too");
  } finally {
    await stop(cli);
  }
});

test("--notify URL: a push reaches a local sink in distribution's envelope", async () => {
  const sink = await startSink();
  const { cli, url } = await start(["--notify", sink.url]);
  try {
    const digest = await pushImage(url, "hooked/app", "v1");
    await until(() => eventsOf(sink).some((e) => e.target.digest === digest), 10_000, "the event");
    const event = eventsOf(sink).find((e) => e.target.digest === digest)!;
    assert.equal(event.action, "push");
    assert.equal(event.target.repository, "hooked/app");
    assert.equal(event.target.tag, "v1");
    assert.equal(event.target.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.match(event.request.addr ?? "", /^127\.0\.0\.1:\d+$/);
    assert.match(event.request.id, /^[0-9a-f-]{36}$/);
    assert.equal(
      sink.received[0].headers["content-type"],
      "application/vnd.docker.distribution.events.v1+json",
    );
  } finally {
    await stop(cli);
    await sink.close();
  }
});

test("--notify-config: a bad file exits 1 naming the problem", async () => {
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ endpoints: [{ url: "ftp://example.invalid/" }] }));
  const run = spawnCli(["--port", "0", "--storage", "memory", "--notify-config", bad]);
  assert.equal(await run.exited, 1);
  assert.match(run.stderr(), /^fetch-registry: --notify-config .*bad\.json: endpoints\[0\]\.url/m);
  assert.doesNotMatch(run.stderr(), /^\s+at /m);
  assert.doesNotMatch(run.stdout(), /listening on/);

  const missing = spawnCli(["--port", "0", "--notify-config", join(dir, "nope.json")]);
  assert.equal(await missing.exited, 1);
  assert.match(missing.stderr(), /^fetch-registry: --notify-config .*nope\.json: no such file$/m);

  const notJson = join(dir, "text.json");
  writeFileSync(notJson, "endpoints: []");
  const garbled = spawnCli(["--port", "0", "--storage", "memory", "--notify-config", notJson]);
  assert.equal(await garbled.exited, 1);
  assert.match(garbled.stderr(), /text\.json: notify config: not JSON/);
});

test("SIGTERM delivers queued notifications before exiting", async () => {
  // The sink answers slowly, so events are still queued when the signal comes.
  const sink = await startSink(() => ({ delayMs: 700 }));
  const config = join(dir, "slow.json");
  writeFileSync(config, JSON.stringify({ endpoints: [{ url: sink.url, batchSize: 1 }] }));
  const { cli, url } = await start(["--notify-config", config]);
  try {
    const digest = await pushImage(url, "flush/app", "v1");
    cli.signal("SIGTERM");
    assert.equal(await cli.exited, 0, cli.output());
    assert.ok(eventsOf(sink).some((e) => e.target.digest === digest), "the manifest event came");
    assert.match(cli.stderr(), /notifications at shutdown: [1-9]\d* delivered, 0 dropped/);
  } finally {
    await cli.kill();
    await sink.close();
  }
});

test("SIGTERM with a hanging endpoint exits within the delivery deadline, counting drops", async () => {
  const sink = await startSink(() => ({ hang: true }));
  const { cli, url } = await start(["--notify", sink.url]);
  try {
    await pushImage(url, "hang/app", "v1");
    await until(() => sink.received.length > 0, 10_000, "the first attempt");
    const signalled = Date.now();
    cli.signal("SIGTERM");
    assert.equal(await cli.exited, 0, cli.output());
    const took = Date.now() - signalled;
    assert.ok(took < 9_000, `exited ${took} ms after SIGTERM (deadline 5 s)`);
    assert.match(cli.stderr(), /notifications at shutdown: 0 delivered, [1-9]\d* dropped/);
  } finally {
    await cli.kill();
    await sink.close();
  }
});

test.run();
