import { suite } from "uvu";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRegistry } from "../lib/registry.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import type { Storage } from "../lib/storage/types.ts";
import { createHealth } from "../lib/observe/health.ts";
import { createRegistryMetrics } from "../lib/observe/metrics.ts";
import {
  Counter,
  Gauge,
  Histogram,
  labelKey,
  PROMETHEUS_CONTENT_TYPE,
} from "../lib/observe/metrics_text.ts";
import { instrumentStorage } from "../lib/observe/storage_metrics.ts";
import { withMetrics } from "../lib/observe/with_metrics.ts";
import { createRouteClassifier, pathnameOf } from "../lib/observe/route_label.ts";
import { createRouter } from "../lib/router.ts";

const ORIGIN = "http://registry.test";
const enc = new TextEncoder();
const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** The value of one sample line (`name{labels}`) in an exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    const i = line.lastIndexOf(" ");
    if (line.slice(0, i) === series) return Number(line.slice(i + 1));
  }
  return undefined;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
}

const text = suite("metrics: text exposition format 0.0.4");

text("counters, gauges and histograms render with HELP, TYPE and escaped labels", () => {
  const c = new Counter("x_requests_total", "Requests.\nSecond line \\ slash", ["route", "status"]);
  c.inc(labelKey("blob", "200"));
  c.inc(labelKey("blob", "200"), 2);
  c.inc(labelKey('we"ird\\\n', "404"));
  assert.equal(
    c.render(),
    "# HELP x_requests_total Requests.\\nSecond line \\\\ slash\n" +
      "# TYPE x_requests_total counter\n" +
      'x_requests_total{route="blob",status="200"} 3\n' +
      'x_requests_total{route="we\\"ird\\\\\\n",status="404"} 1\n',
  );
  const g = new Gauge("x_in_flight", "In flight.");
  g.add("", 2);
  g.add("", -1);
  assert.equal(
    g.render(),
    "# HELP x_in_flight In flight.\n# TYPE x_in_flight gauge\nx_in_flight 1\n",
  );
  const h = new Histogram("x_seconds", "Latency.", ["op"], [0.1, 1]);
  h.observe("a", 0.05);
  h.observe("a", 0.1);
  h.observe("a", 0.5);
  h.observe("a", 3);
  assert.equal(
    h.render(),
    "# HELP x_seconds Latency.\n# TYPE x_seconds histogram\n" +
      'x_seconds_bucket{op="a",le="0.1"} 2\n' +
      'x_seconds_bucket{op="a",le="1"} 3\n' +
      'x_seconds_bucket{op="a",le="+Inf"} 4\n' +
      'x_seconds_sum{op="a"} 3.65\n' +
      'x_seconds_count{op="a"} 4\n',
  );
  assert.throws(() => new Counter("bad name", "x", []), /bad metric name/);
});

text("pathnameOf takes the path of absolute URLs without the query or fragment", () => {
  assert.equal(pathnameOf("http://h:5000/v2/a/manifests/x?y=1#z"), "/v2/a/manifests/x");
  assert.equal(pathnameOf("http://h/metrics"), "/metrics");
  assert.equal(pathnameOf("http://h"), "/");
  assert.equal(pathnameOf("http://h/a#b?c"), "/a");
});

text("route labels: the classifier agrees with the router on 60000 generated paths", () => {
  const pool = ["v2", "a", "b", "blobs", "uploads", "manifests", "tags", "list", "referrers"];
  pool.push("_catalog", "", "sha256:x", "reg", "%2F", "..x", "token");
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const base of ["", "/reg", "/reg/"]) {
    const router = createRouter(base);
    const classify = createRouteClassifier(base);
    for (let i = 0; i < 20000; i++) {
      const segments: string[] = [];
      const n = 1 + Math.floor(random() * 7);
      for (let k = 0; k < n; k++) segments.push(pool[Math.floor(random() * pool.length)]);
      let path = random() < 0.6
        ? `${base.replace(/\/+$/, "")}/v2/${segments.join("/")}`
        : `/${segments.join("/")}`;
      if (random() < 0.2) path += "/";
      assert.equal(classify(path), router.match("GET", path)?.route, path);
    }
  }
  const classify = createRouteClassifier("");
  assert.equal(classify("/v2/"), "base");
  assert.equal(classify("/v2/_catalog"), "catalog");
  assert.equal(classify("/v2/a/b/blobs/uploads/"), "uploads");
  assert.equal(classify("/v2/a/blobs/uploads/id"), "upload");
  assert.equal(classify("/v2/a/blobs/sha256:1"), "blob");
  assert.equal(classify("/v2/a/manifests/v1"), "manifest");
  assert.equal(classify("/v2/a/tags/list"), "tags");
  assert.equal(classify("/v2/a/referrers/sha256:1"), "referrers");
  assert.equal(classify("/v2//manifests/x"), undefined);
  assert.equal(classify("/v20/a/manifests/x"), undefined);
  assert.equal(classify("/token"), "token");
  assert.equal(classify("/token//"), "token");
  assert.equal(classify("/tokens"), undefined);
});

const wrapper = suite("metrics: withMetrics wrapper");

wrapper("requests by route, method and status; bytes in as streamed and bytes out", async () => {
  const metrics = createRegistryMetrics({ memory: () => ({ rss: 123456, heapUsed: 789 }) });
  const registry = withMetrics(
    createRegistry({ storage: instrumentStorage(memoryStorage(), metrics) }),
    { metrics },
  );
  const call = (method: string, path: string, init: RequestInit = {}) =>
    registry.fetch(new Request(`${ORIGIN}${path}`, { method, ...init }));
  const blob = enc.encode("x".repeat(1000));
  // a streamed body without Content-Length is counted as the handler reads it
  let res = await call("POST", `/v2/a/b/blobs/uploads/?digest=${sha(blob)}`, {
    body: streamOf([blob.subarray(0, 400), blob.subarray(400)]),
    duplex: "half",
  } as RequestInit);
  assert.equal(res.status, 201);
  res = await call("GET", `/v2/a/b/blobs/${sha(blob)}`);
  assert.equal((await res.arrayBuffer()).byteLength, 1000);
  res = await call("HEAD", `/v2/a/b/blobs/${sha(blob)}`);
  assert.equal(res.status, 200);
  for (let i = 0; i < 5; i++) {
    res = await call("GET", `/v2/repo${i}/manifests/tag${i}`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  }
  await (await call("GET", "/not/a/route/at/all")).arrayBuffer();
  await (await call("PURGE", "/v2/")).arrayBuffer();
  res = await call("GET", "/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Content-Type"), PROMETHEUS_CONTENT_TYPE);
  const t = await res.text();
  const P = "fetch_registry_";
  assert.equal(sample(t, `${P}http_requests_total{route="uploads",method="POST",status="201"}`), 1);
  assert.equal(sample(t, `${P}http_requests_total{route="blob",method="GET",status="200"}`), 1);
  assert.equal(sample(t, `${P}http_requests_total{route="blob",method="HEAD",status="200"}`), 1);
  assert.equal(sample(t, `${P}http_requests_total{route="manifest",method="GET",status="404"}`), 5);
  assert.equal(
    sample(t, `${P}http_requests_total{route="unmatched",method="GET",status="404"}`),
    1,
  );
  assert.equal(sample(t, `${P}http_requests_total{route="base",method="OTHER",status="405"}`), 1);
  assert.ok(!t.includes("repo3") && !t.includes("tag3"), "no raw paths in labels");
  assert.equal(sample(t, `${P}http_request_body_bytes_total{route="uploads"}`), 1000);
  assert.equal(sample(t, `${P}http_response_body_bytes_total{route="blob"}`), 1000);
  assert.equal(
    sample(t, `${P}http_request_duration_seconds_count{route="manifest",method="GET"}`),
    5,
  );
  assert.equal(
    sample(t, `${P}http_request_duration_seconds_bucket{route="manifest",method="GET",le="+Inf"}`),
    5,
  );
  assert.equal(sample(t, `${P}http_requests_in_flight`), 0);
  assert.equal(sample(t, `${P}uploads_in_progress`), 0);
  assert.equal(sample(t, "process_resident_memory_bytes"), 123456);
  assert.equal(sample(t, `${P}heap_used_bytes`), 789);
  // storage operations, by adapter operation
  assert.equal(
    sample(t, `${P}storage_operation_duration_seconds_count{operation="blobs.read"}`),
    1,
  );
  assert.ok(
    sample(t, `${P}storage_operation_duration_seconds_count{operation="uploads.commit"}`)! >= 1,
  );
  assert.equal(sample(t, `${P}storage_operation_duration_seconds_count{operation="tags.get"}`), 5);
  assert.match(t, /# TYPE fetch_registry_http_request_duration_seconds histogram/);
  // the metrics request itself is not counted as a registry request
  assert.ok(!t.includes('route="metrics"'));
});

wrapper("uploads in progress while a body streams in; requests in flight", async () => {
  const metrics = createRegistryMetrics();
  const registry = withMetrics(createRegistry(), { metrics });
  let res = await registry.fetch(new Request(`${ORIGIN}/v2/up/blobs/uploads/`, { method: "POST" }));
  const location = res.headers.get("Location")!;
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
  const patching = registry.fetch(
    new Request(`${ORIGIN}${location}`, { method: "PATCH", body, duplex: "half" } as RequestInit),
  );
  feed.enqueue(enc.encode("abc"));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(metrics.uploadsInProgress.get(), 1);
  assert.equal(metrics.inFlight.get(), 1);
  assert.equal(metrics.bytesIn.get("upload"), 3);
  feed.enqueue(enc.encode("def"));
  feed.close();
  res = await patching;
  assert.equal(res.status, 202);
  assert.equal(metrics.uploadsInProgress.get(), 0);
  assert.equal(metrics.inFlight.get(), 0);
  assert.equal(metrics.bytesIn.get("upload"), 6);
});

wrapper("a separate listener: serveMetrics false leaves /metrics to the registry", async () => {
  const metrics = createRegistryMetrics();
  const registry = withMetrics(createRegistry({ basePath: "/reg" }), {
    metrics,
    basePath: "/reg",
    serveMetrics: false,
  });
  let res = await registry.fetch(new Request(`${ORIGIN}/reg/metrics`));
  assert.equal(res.status, 404);
  res = await registry.fetch(new Request(`${ORIGIN}/reg/v2/`));
  assert.equal(res.status, 200);
  res = await metrics.handler(new Request("http://127.0.0.1:9090/metrics"));
  assert.equal(res.status, 200);
  const t = await res.text();
  assert.equal(
    sample(t, 'fetch_registry_http_requests_total{route="base",method="GET",status="200"}'),
    1,
  );
  assert.equal(
    sample(t, 'fetch_registry_http_requests_total{route="unmatched",method="GET",status="404"}'),
    1,
  );
  assert.equal((await metrics.handler(new Request(ORIGIN, { method: "POST" }))).status, 405);
  res = await registry.fetch(new Request(`${ORIGIN}/reg/healthz`));
  assert.equal(res.status, 200, "health follows the mount prefix");
});

wrapper("storage errors are counted by operation; optional methods stay absent", async () => {
  const metrics = createRegistryMetrics();
  const base = memoryStorage();
  const broken: Storage = {
    ...base,
    tags: { ...base.tags, get: () => Promise.reject(new Error("disk on fire")) },
  };
  const storage = instrumentStorage(broken, metrics);
  assert.equal(storage.blobs.redirectUrl, undefined);
  assert.equal(typeof storage.uploads?.purge, "function");
  const errors: unknown[] = [];
  const registry = withMetrics(
    createRegistry({ storage, logger: { error: (e) => errors.push(e) } }),
    {
      metrics,
    },
  );
  const res = await registry.fetch(new Request(`${ORIGIN}/v2/a/manifests/latest`));
  assert.equal(res.status, 500);
  assert.equal(metrics.storageErrors.get("tags.get"), 1);
  assert.equal(metrics.storageDuration.get("tags.get").count, 1);
  assert.equal(errors.length, 1);
  const t = metrics.render();
  assert.equal(sample(t, 'fetch_registry_storage_operation_errors_total{operation="tags.get"}'), 1);
  assert.equal(
    sample(t, 'fetch_registry_http_requests_total{route="manifest",method="GET",status="500"}'),
    1,
  );
});

wrapper("webhook counters are read at scrape time", () => {
  const metrics = createRegistryMetrics({
    notifications: () => [{
      name: "ci",
      pending: 3,
      delivered: 10,
      failures: 2,
      dropped: { queue_full: 4, retries_exhausted: 1, shutdown: 0 },
    }],
  });
  const t = metrics.render();
  assert.match(t, /# TYPE fetch_registry_notifications_dropped_total counter/);
  const D = "fetch_registry_notifications_dropped_total";
  assert.equal(sample(t, `${D}{endpoint="ci",reason="queue_full"}`), 4);
  assert.equal(sample(t, `${D}{endpoint="ci",reason="retries_exhausted"}`), 1);
  assert.equal(sample(t, 'fetch_registry_notifications_delivered_total{endpoint="ci"}'), 10);
  assert.equal(sample(t, 'fetch_registry_notifications_failures_total{endpoint="ci"}'), 2);
  assert.equal(sample(t, 'fetch_registry_notifications_pending{endpoint="ci"}'), 3);
});

const health = suite("health: /healthz and /readyz");

health("healthz answers without storage; readyz probes storage", async () => {
  let probes = 0;
  const base = memoryStorage();
  const storage: Storage = {
    ...base,
    tags: { ...base.tags, get: (r, t) => (probes++, base.tags.get(r, t)) },
  };
  const registry = withMetrics(createRegistry({ storage }));
  let res = await registry.fetch(new Request(`${ORIGIN}/healthz`));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok" });
  assert.equal(probes, 0);
  res = await registry.fetch(new Request(`${ORIGIN}/readyz`));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ready" });
  assert.equal(res.headers.get("Cache-Control"), "no-store");
  assert.equal(probes, 1);
  res = await registry.fetch(new Request(`${ORIGIN}/readyz`, { method: "HEAD" }));
  assert.equal(res.status, 200);
  assert.equal(probes, 1, "cached for a second");
  res = await registry.fetch(new Request(`${ORIGIN}/healthz`, { method: "POST" }));
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("Allow"), "GET, HEAD");
});

health(
  "a hanging storage: 503 within the timeout; a failing one: 503; probes are shared",
  async () => {
    let clock = 0;
    let mode: "hang" | "fail" | "ok" = "hang";
    let probes = 0;
    const base = memoryStorage();
    const storage: Storage = {
      ...base,
      tags: {
        ...base.tags,
        get: () => {
          probes++;
          if (mode === "hang") return new Promise(() => {});
          if (mode === "fail") return Promise.reject(new Error("EACCES /secret/path"));
          return Promise.resolve(undefined);
        },
      },
    };
    const h = createHealth(storage, { timeoutMs: 100, cacheMs: 1000, now: () => clock });
    const started = performance.now();
    const polls = await Promise.all([1, 2, 3].map(() => h.ready(new Request(`${ORIGIN}/readyz`))));
    const took = performance.now() - started;
    assert.ok(took >= 90 && took < 1000, `timed out after ${took} ms`);
    assert.equal(probes, 1, "concurrent polls share one probe");
    for (const res of polls) {
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), {
        status: "unavailable",
        reason: "storage check timed out",
      });
    }
    clock += 1000;
    mode = "fail";
    let res = await h.ready(new Request(`${ORIGIN}/readyz`));
    assert.equal(res.status, 503);
    const body = await res.text();
    assert.equal(body, '{"status":"unavailable","reason":"storage check failed"}');
    assert.ok(!body.includes("secret"), "storage errors are not revealed");
    clock += 999;
    mode = "ok";
    assert.equal((await h.ready(new Request(`${ORIGIN}/readyz`))).status, 503, "still cached");
    clock += 1;
    res = await h.ready(new Request(`${ORIGIN}/readyz`));
    assert.equal(res.status, 200);
    assert.equal(probes, 3);
  },
);

text.run();
wrapper.run();
health.run();
