import { suite } from "uvu";
import assert from "node:assert/strict";
import { EVENTS_MEDIA_TYPE, type RegistryEvent } from "../lib/observe/events.ts";
import { createNotifier, type Notifier } from "../lib/observe/notify.ts";
import {
  endpointFromUrl,
  NotifyConfigError,
  type NotifyEndpoint,
  parseNotifyConfig,
} from "../lib/observe/notify_config.ts";
import type { RegistryAction } from "../lib/observe/outcome.ts";
import { type Sink, type SinkBehaviour, startSink } from "./support/sink.ts";

let serial = 0;
function event(repository: string, action: RegistryAction = "push", mediaType?: string) {
  const n = serial++;
  const e: RegistryEvent = {
    id: `event-${n}`,
    timestamp: new Date().toISOString(),
    action,
    target: { repository, digest: `sha256:${String(n).padStart(64, "0")}` },
    request: { id: `r${n}`, host: "h", method: "PUT", useragent: "t" },
    actor: {},
    source: { addr: "h:1", instanceID: "i" },
  };
  if (mediaType) e.target.mediaType = mediaType;
  return e;
}

function endpoint(url: string, over: Partial<NotifyEndpoint> = {}): NotifyEndpoint {
  return { ...endpointFromUrl(url), backoffMs: 10, maxBackoffMs: 40, ...over };
}

/** The events a sink received, flattened in arrival order, each attempt once. */
function delivered(received: { json: unknown }[]): RegistryEvent[] {
  return received.flatMap((r) => (r.json as { events: RegistryEvent[] }).events);
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const notify = suite("webhook delivery");

/** Closers of what the current test opened, run after it whether it passed or not. */
const opened: Array<() => Promise<unknown>> = [];
notify.after.each(async () => {
  for (const close of opened.splice(0)) await close().catch(() => {});
});

/** A sink closed after the test. */
async function openSink(behaviour?: SinkBehaviour): Promise<Sink> {
  const s = await startSink(behaviour);
  opened.push(() => s.close());
  return s;
}

/** A notifier closed (at once) after the test, before its sinks. */
function openNotifier(options: Parameters<typeof createNotifier>[0]): Notifier {
  const n = createNotifier(options);
  opened.unshift(() => n.close(0));
  return n;
}

notify(
  "envelopes in order per repository, with the media type and configured headers",
  async () => {
    const sink = await openSink((n) => ({ delayMs: n % 3 === 0 ? 15 : 0 }));
    const notifier = openNotifier({
      endpoints: [
        endpoint(sink.url, { batchSize: 4, headers: { Authorization: "Bearer s3cret" } }),
      ],
    });
    const published: RegistryEvent[] = [];
    for (let i = 0; i < 30; i++) {
      const e = event(["a", "b/c", "d"][i % 3]);
      published.push(e);
      notifier.publish(e);
    }
    assert.equal(notifier.stats()[0].pending, 30, "publish only queues");
    assert.equal(sink.received.length, 0, "nothing is sent inside publish");
    await until(() => notifier.stats()[0].delivered === 30);
    const got = delivered(sink.received);
    assert.equal(got.length, 30);
    for (const repo of ["a", "b/c", "d"]) {
      assert.deepEqual(
        got.filter((e) => e.target.repository === repo).map((e) => e.id),
        published.filter((e) => e.target.repository === repo).map((e) => e.id),
        `order of ${repo}`,
      );
    }
    assert.ok(sink.received.every((r) => (r.json as { events: unknown[] }).events.length <= 4));
    assert.equal(sink.received[0].headers["content-type"], EVENTS_MEDIA_TYPE);
    assert.equal(sink.received[0].headers["authorization"], "Bearer s3cret");
    assert.deepEqual(notifier.stats()[0].dropped, {
      queue_full: 0,
      retries_exhausted: 0,
      shutdown: 0,
    });
    assert.deepEqual(await notifier.close(1000), { delivered: 0, dropped: 0 });
    await sink.close();
  },
);

notify("a 500 is retried with backoff, before anything queued behind it", async () => {
  const sink = await openSink((n) => ({ status: n < 2 ? 500 : 200 }));
  const logs: string[] = [];
  const notifier = openNotifier({
    endpoints: [endpoint(sink.url, { batchSize: 2, headers: { Authorization: "Bearer hide-me" } })],
    log: (m) => logs.push(m),
  });
  const published = [event("r"), event("r"), event("r"), event("r"), event("r")];
  for (const e of published) notifier.publish(e);
  await until(() => notifier.stats()[0].delivered === 5);
  const stats = notifier.stats()[0];
  assert.equal(stats.failures, 2);
  assert.equal(stats.pending, 0);
  // attempts 1 and 2 (500) and 3 (200) carried the same first envelope
  const ids = sink.received.map((r) => delivered([r]).map((e) => e.id).join(","));
  assert.equal(ids[0], ids[1]);
  assert.equal(ids[1], ids[2]);
  const firstDelivery = [ids[2], ...ids.slice(3)].join(",").split(",");
  assert.deepEqual(firstDelivery, published.map((e) => e.id));
  assert.ok(logs.some((m) => m.includes("answered 500")));
  assert.ok(logs.every((m) => !m.includes("hide-me")), "headers never logged");
  await notifier.close(1000);
  await sink.close();
});

notify("after maxAttempts an envelope is dropped and counted; the next goes on", async () => {
  const sink = await openSink((n) => ({ status: n < 3 ? 503 : 204 }));
  const notifier = openNotifier({
    endpoints: [endpoint(sink.url, { batchSize: 1, maxAttempts: 3 })],
  });
  notifier.publish(event("x"));
  notifier.publish(event("x"));
  await until(() => notifier.stats()[0].delivered === 1);
  assert.equal(notifier.stats()[0].dropped.retries_exhausted, 1);
  assert.equal(notifier.stats()[0].failures, 3);
  await notifier.close(1000);
  await sink.close();
});

notify(
  "a hanging sink: attempts time out, the queue stays bounded, drops are counted",
  async () => {
    const sink = await openSink(() => ({ hang: true }));
    const notifier = openNotifier({
      endpoints: [
        endpoint(sink.url, { timeoutMs: 100, queueSize: 5, batchSize: 2, maxAttempts: 2 }),
      ],
    });
    for (let i = 0; i < 1000; i++) notifier.publish(event(`repo${i % 7}`));
    let stats = notifier.stats()[0];
    assert.equal(stats.pending, 5, "never more than queueSize events held");
    assert.equal(stats.dropped.queue_full, 995);
    // two attempts of 100 ms (+ 10 ms backoff) each, then the first envelope of 2 is dropped
    await until(() => notifier.stats()[0].dropped.retries_exhausted >= 2, 3000);
    stats = notifier.stats()[0];
    assert.ok(stats.failures >= 2);
    assert.ok(stats.pending <= 3);
    assert.equal(stats.delivered, 0);
    notifier.publish(event("late"));
    assert.ok(notifier.stats()[0].pending <= 5);
    const closing = performance.now();
    const result = await notifier.close(150);
    const took = performance.now() - closing;
    assert.ok(took < 1000, `close kept its deadline (${took} ms)`);
    assert.equal(result.delivered, 0);
    assert.ok(result.dropped >= 1);
    stats = notifier.stats()[0];
    assert.equal(stats.pending, 0);
    assert.equal(
      stats.dropped.queue_full + stats.dropped.retries_exhausted + stats.dropped.shutdown,
      1001,
      "every event is delivered or counted as dropped",
    );
    notifier.publish(event("after close"));
    assert.equal(notifier.stats()[0].dropped.shutdown, result.dropped + 1);
    await sink.close();
  },
);

notify("close flushes what it can within the deadline and drops the rest", async () => {
  const sink = await openSink(() => ({ delayMs: 100 }));
  const notifier = openNotifier({ endpoints: [endpoint(sink.url, { batchSize: 1 })] });
  for (let i = 0; i < 20; i++) notifier.publish(event("slow"));
  const started = performance.now();
  const result = await notifier.close(450);
  const took = performance.now() - started;
  assert.ok(took >= 440 && took < 1200, `close took ${took} ms`);
  assert.ok(result.delivered >= 1 && result.delivered <= 5, `delivered ${result.delivered}`);
  assert.equal(result.delivered + result.dropped, 20);
  await sink.close();

  const fast = await openSink();
  const quick = openNotifier({ endpoints: [endpoint(fast.url)] });
  for (let i = 0; i < 40; i++) quick.publish(event("fast"));
  const t0 = performance.now();
  assert.deepEqual(await quick.close(5000), { delivered: 40, dropped: 0 });
  assert.ok(performance.now() - t0 < 2000, "an idle queue does not wait for the deadline");
  assert.equal(delivered(fast.received).length, 40);
  await fast.close();
});

notify("filters by action and media type; each endpoint has its own queue", async () => {
  const sink = await openSink();
  const dead = await openSink(() => ({ hang: true }));
  const M = "application/vnd.oci.image.manifest.v1+json";
  const notifier = openNotifier({
    endpoints: [
      endpoint(sink.url, { name: "pushes", actions: ["push", "delete"], mediaTypes: [M] }),
      endpoint(dead.url, { name: "dead", timeoutMs: 5000 }),
    ],
  });
  notifier.publish(event("r", "push", M));
  notifier.publish(event("r", "push", "application/octet-stream"));
  notifier.publish(event("r", "pull", M));
  notifier.publish(event("r", "delete"));
  assert.equal(notifier.wants("pull", M), true, "the dead endpoint takes everything");
  await until(() => notifier.stats()[0].delivered === 2);
  assert.deepEqual(delivered(sink.received).map((e) => e.action), ["push", "delete"]);
  assert.equal(notifier.stats()[1].pending, 4, "the dead endpoint holds its own events");
  const result = await notifier.close(100);
  assert.equal(result.dropped, 4);
  await sink.close();
  await dead.close();
});

const config = suite("notify config");

notify("wants: whether any endpoint's filter takes an action and media type", () => {
  const M = "application/vnd.oci.image.manifest.v1+json";
  const n = openNotifier({
    endpoints: [endpoint("http://127.0.0.1:9/", { actions: ["push"], mediaTypes: [M] })],
  });
  assert.equal(n.wants("push", M), true);
  assert.equal(n.wants("push", "application/octet-stream"), false);
  assert.equal(n.wants("pull", M), false);
  assert.equal(n.wants("push", undefined), true);
  assert.equal(openNotifier({ endpoints: [] }).wants("push", M), false);
});

config("the full form, with durations in strings or milliseconds", () => {
  const parsed = parseNotifyConfig(JSON.stringify({
    endpoints: [{
      name: "ci",
      url: "https://hooks.example/registry",
      headers: { Authorization: "Bearer t" },
      timeout: "2s",
      backoff: 250,
      maxBackoff: "1m",
      maxAttempts: 3,
      queueSize: 50,
      batchSize: 5,
      actions: ["push", "delete"],
      mediaTypes: ["application/vnd.oci.image.manifest.v1+json"],
    }, { url: "http://127.0.0.1:9000/x" }],
  }));
  assert.deepEqual(parsed.endpoints[0], {
    name: "ci",
    url: "https://hooks.example/registry",
    headers: { Authorization: "Bearer t" },
    timeoutMs: 2000,
    backoffMs: 250,
    maxBackoffMs: 60000,
    maxAttempts: 3,
    queueSize: 50,
    batchSize: 5,
    actions: ["push", "delete"],
    mediaTypes: ["application/vnd.oci.image.manifest.v1+json"],
  });
  assert.equal(parsed.endpoints[1].name, "127.0.0.1:9000");
  assert.equal(parsed.endpoints[1].timeoutMs, 5000);
  assert.equal(endpointFromUrl("http://a.example/").url, "http://a.example/");
});

config("errors name the field and the problem", () => {
  const cases: [string, RegExp][] = [
    ["{", /^notify config: not JSON/],
    ["[]", /^notify config: must be an object/],
    ['{"endpoint":[]}', /^endpoint: unknown field/],
    ['{"endpoints":{}}', /^endpoints: must be an array/],
    ['{"endpoints":[{}]}', /^endpoints\[0\]\.url: must be a string URL/],
    ['{"endpoints":[{"url":"ftp://x/"}]}', /^endpoints\[0\]\.url: must be an http or https URL/],
    ['{"endpoints":[{"url":"nope"}]}', /^endpoints\[0\]\.url: not a URL/],
    [
      '{"endpoints":[{"url":"http://x/","timeout":"5 minutes"}]}',
      /^endpoints\[0\]\.timeout: not a duration/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","timeout":0}]}',
      /^endpoints\[0\]\.timeout: must be between/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","queueSize":1.5}]}',
      /^endpoints\[0\]\.queueSize: must be an integer/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","actions":["pull","tag"]}]}',
      /^endpoints\[0\]\.actions: unknown action "tag"/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","mediaTypes":"a"}]}',
      /^endpoints\[0\]\.mediaTypes: must be an array/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","headers":{"A":"b\\nc"}}]}',
      /^endpoints\[0\]\.headers\.A: must be a string without line breaks/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","headers":{"a b":"c"}}]}',
      /^endpoints\[0\]\.headers: not a header name/,
    ],
    [
      '{"endpoints":[{"url":"http://x/","tiemout":"1s"}]}',
      /^endpoints\[0\]\.tiemout: unknown field/,
    ],
    [
      '{"endpoints":[{"url":"http://x/"},{"url":"http://x/a"}]}',
      /^endpoints\[1\]\.name: duplicate name "x"/,
    ],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseNotifyConfig(text), (e: unknown) => {
      assert.ok(e instanceof NotifyConfigError, text);
      assert.match((e as Error).message, pattern, text);
      return true;
    });
  }
  assert.throws(() => endpointFromUrl("file:///etc/passwd"), /--notify\.url: must be an http/);
});

notify.run();
config.run();
