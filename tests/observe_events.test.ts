import { suite } from "uvu";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRegistry } from "../lib/registry.ts";
import {
  combineObservers,
  createEventObserver,
  EVENTS_MEDIA_TYPE,
  type RegistryEvent,
} from "../lib/observe/events.ts";
import type { RequestOutcome } from "../lib/observe/outcome.ts";
import { requestId, withRequestId } from "../lib/observe/request_id.ts";
import { basicAuth } from "../lib/auth/basic_mode.ts";
import { basicHeader, POLICY, USERS } from "./support/auth.ts";

const enc = new TextEncoder();
const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const ORIGIN = "http://registry.test";
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

function setup() {
  const events: RegistryEvent[] = [];
  const outcomes: RequestOutcome[] = [];
  const registry = createRegistry({
    observer: combineObservers(
      (o) => outcomes.push(o),
      createEventObserver((e) => events.push(e), {
        instanceID: "instance-1",
        sourceAddr: "registry.internal:5000",
        clientAddress: (r) => r.headers.get("X-Test-Client") ?? undefined,
      }),
    ),
  });
  const call = (method: string, path: string, init: RequestInit = {}) =>
    registry.fetch(new Request(`${ORIGIN}${path}`, { method, ...init }));
  return { registry, events, outcomes, call };
}

const config = enc.encode('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}');
const layer = enc.encode("layer bytes");
function manifestFor() {
  return enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha(config),
      size: config.byteLength,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: sha(layer),
      size: layer.byteLength,
    }],
  }));
}

const events = suite("events: distribution's envelope from the observer hook");

events("monolithic and chunked blob pushes, a manifest push by tag: push events", async () => {
  const { events, call } = setup();
  // monolithic POST ?digest=
  let res = await call("POST", `/v2/team/app/blobs/uploads/?digest=${sha(config)}`, {
    body: config,
    headers: {
      "User-Agent": "test-agent/1.0",
      "X-Request-Id": "req-1",
      "X-Test-Client": "10.0.0.9:5555",
    },
  });
  assert.equal(res.status, 201);
  // POST, PATCH, PUT
  res = await call("POST", "/v2/team/app/blobs/uploads/");
  assert.equal(res.status, 202);
  const location = res.headers.get("Location")!;
  assert.equal(events.length, 1, "starting a session is no event");
  res = await call("PATCH", location, { body: layer });
  assert.equal(res.status, 202);
  assert.equal(events.length, 1, "a chunk is no event");
  res = await call("PUT", `${location}?digest=${sha(layer)}`);
  assert.equal(res.status, 201);
  const manifest = manifestFor();
  res = await call("PUT", "/v2/team/app/manifests/v1", {
    body: manifest,
    headers: { "Content-Type": MANIFEST_TYPE },
  });
  assert.equal(res.status, 201);
  assert.equal(events.length, 3);
  const [a, b, c] = events;
  assert.equal(a.action, "push");
  assert.deepEqual(a.target, {
    mediaType: "application/octet-stream",
    digest: sha(config),
    size: config.byteLength,
    length: config.byteLength,
    repository: "team/app",
    url: `${ORIGIN}/v2/team/app/blobs/${sha(config)}`,
  });
  assert.deepEqual(a.request, {
    id: "req-1",
    addr: "10.0.0.9:5555",
    host: "registry.test",
    method: "POST",
    useragent: "test-agent/1.0",
  });
  assert.deepEqual(a.actor, {});
  assert.deepEqual(a.source, { addr: "registry.internal:5000", instanceID: "instance-1" });
  assert.match(a.id, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(a.timestamp)));
  assert.equal(b.target.digest, sha(layer));
  assert.equal(b.target.size, layer.byteLength);
  assert.equal(b.request.method, "PUT");
  assert.equal(c.action, "push");
  assert.deepEqual(c.target, {
    mediaType: MANIFEST_TYPE,
    digest: sha(manifest),
    size: manifest.byteLength,
    length: manifest.byteLength,
    repository: "team/app",
    url: `${ORIGIN}/v2/team/app/manifests/${sha(manifest)}`,
    tag: "v1",
  });
  assert.equal(new Set(events.map((e) => e.id)).size, 3);
  // the envelope a receiver gets round-trips through JSON unchanged
  assert.deepEqual(JSON.parse(JSON.stringify({ events })).events[2], c);
  assert.equal(EVENTS_MEDIA_TYPE, "application/vnd.docker.distribution.events.v1+json");
});

events(
  "pulls: manifest GET by tag and by digest, blob GET; HEAD and 304 are no pulls",
  async () => {
    const { events, call } = setup();
    await call("POST", `/v2/app/blobs/uploads/?digest=${sha(config)}`, { body: config });
    await call("POST", `/v2/app/blobs/uploads/?digest=${sha(layer)}`, { body: layer });
    const manifest = manifestFor();
    await call("PUT", "/v2/app/manifests/latest", {
      body: manifest,
      headers: { "Content-Type": MANIFEST_TYPE },
    });
    events.length = 0;
    assert.equal((await call("HEAD", "/v2/app/manifests/latest")).status, 200);
    assert.equal((await call("HEAD", `/v2/app/blobs/${sha(layer)}`)).status, 200);
    const etag = `"${sha(manifest)}"`;
    const notModified = await call("GET", "/v2/app/manifests/latest", {
      headers: { "If-None-Match": etag },
    });
    assert.equal(notModified.status, 304);
    assert.equal(events.length, 0);
    let res = await call("GET", "/v2/app/manifests/latest");
    await res.arrayBuffer();
    res = await call("GET", `/v2/app/manifests/${sha(manifest)}`);
    await res.arrayBuffer();
    res = await call("GET", `/v2/app/blobs/${sha(layer)}`);
    assert.equal(await res.text(), "layer bytes");
    assert.deepEqual(events.map((e) => [e.action, e.target.tag, e.target.digest]), [
      ["pull", "latest", sha(manifest)],
      ["pull", undefined, sha(manifest)],
      ["pull", undefined, sha(layer)],
    ]);
    assert.equal(events[0].target.mediaType, MANIFEST_TYPE);
    assert.equal(events[2].target.size, layer.byteLength);
    assert.equal(events[2].target.mediaType, "application/octet-stream");
  },
);

events("mount and deletes; failures make no event", async () => {
  const { events, outcomes, call } = setup();
  await call("POST", `/v2/src/blobs/uploads/?digest=${sha(layer)}`, { body: layer });
  let res = await call("POST", `/v2/dst/blobs/uploads/?mount=${sha(layer)}&from=src`);
  assert.equal(res.status, 201);
  const manifestless = await call("GET", "/v2/dst/manifests/nope");
  assert.equal(manifestless.status, 404);
  res = await call("DELETE", `/v2/dst/blobs/${sha(layer)}`);
  assert.equal(res.status, 202);
  res = await call("DELETE", `/v2/dst/blobs/${sha(layer)}`);
  assert.equal(res.status, 404, "a second delete fails: no event");
  await call("POST", `/v2/src/blobs/uploads/?digest=${sha(config)}`, { body: config });
  const manifest = manifestFor();
  await call("PUT", "/v2/src/manifests/t1", {
    body: manifest,
    headers: { "Content-Type": MANIFEST_TYPE },
  });
  res = await call("DELETE", "/v2/src/manifests/t1");
  assert.equal(res.status, 202);
  res = await call("DELETE", `/v2/src/manifests/${sha(manifest)}`);
  assert.equal(res.status, 202);
  const summary = events.map((e) => [e.action, e.target.repository, e.target.digest, e.target.tag]);
  assert.deepEqual(summary, [
    ["push", "src", sha(layer), undefined],
    ["mount", "dst", sha(layer), undefined],
    ["delete", "dst", sha(layer), undefined],
    ["push", "src", sha(config), undefined],
    ["push", "src", sha(manifest), "t1"],
    ["delete", "src", undefined, "t1"],
    ["delete", "src", sha(manifest), undefined],
  ]);
  assert.equal(events[1].target.fromRepository, "src");
  assert.equal(events[1].target.size, layer.byteLength);
  assert.deepEqual(events[2].target, { digest: sha(layer), repository: "dst" });
  // the observer saw every request, with its route and repository
  const notFound = outcomes.find((o) => o.response.status === 404)!;
  assert.equal(notFound.route, "manifest");
  assert.equal(notFound.repository, "dst");
  assert.equal(notFound.action, undefined);
});

events(
  "the observer sees unmatched paths and bad names without a route or a repository",
  async () => {
    const { outcomes, call } = setup();
    assert.equal((await call("GET", "/nothing/here")).status, 404);
    assert.equal((await call("GET", "/v2/BAD/manifests/x")).status, 400);
    assert.equal(outcomes[0].route, undefined);
    assert.equal(outcomes[0].repository, "");
    assert.equal(outcomes[1].route, "manifest");
    assert.equal(outcomes[1].repository, "");
  },
);

events("wants: events nobody wants are never built", async () => {
  const asked: string[] = [];
  const events: RegistryEvent[] = [];
  const registry = createRegistry({
    observer: createEventObserver((e) => events.push(e), {
      wants: (action, type) => {
        asked.push(`${action} ${type}`);
        return action === "push";
      },
    }),
  });
  const call = (method: string, path: string, init: RequestInit = {}) =>
    registry.fetch(new Request(`${ORIGIN}${path}`, { method, ...init }));
  assert.equal(
    (await call("POST", `/v2/w/blobs/uploads/?digest=${sha(layer)}`, { body: layer })).status,
    201,
  );
  await (await call("GET", `/v2/w/blobs/${sha(layer)}`)).arrayBuffer();
  assert.equal((await call("DELETE", `/v2/w/blobs/${sha(layer)}`)).status, 202);
  assert.deepEqual(asked, [
    "push application/octet-stream",
    "pull application/octet-stream",
    "delete undefined",
  ]);
  assert.deepEqual(events.map((e) => e.action), ["push"]);
});

events(
  "with access control: actor.name is the authenticated user; refusals make no event",
  async () => {
    const events: RegistryEvent[] = [];
    const outcomes: RequestOutcome[] = [];
    const registry = createRegistry({
      auth: basicAuth({ users: USERS, policy: POLICY }),
      observer: combineObservers(
        (o) => outcomes.push(o),
        createEventObserver((e) => events.push(e)),
      ),
    });
    const call = (path: string, headers: Record<string, string>) =>
      registry.fetch(
        new Request(`${ORIGIN}${path}`, { method: "POST", body: layer, headers }),
      );
    const push = `/v2/team/app/blobs/uploads/?digest=${sha(layer)}`;
    assert.equal((await call(push, {})).status, 401);
    assert.equal((await call(push, basicHeader("bob", "bob-pw"))).status, 403);
    assert.equal(events.length, 0);
    assert.equal(outcomes[1].response.status, 403);
    assert.equal(outcomes[1].actor, undefined, "the access stage names no one it refused");
    assert.equal((await call(push, basicHeader("alice", "alice-pw"))).status, 201);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0].actor, { name: "alice" });
    assert.equal(outcomes[2].actor, "alice");
    assert.equal(JSON.stringify(events).includes("alice-pw"), false);
  },
);

events("an observer that throws never changes the answer", async () => {
  const errors: unknown[] = [];
  const registry = createRegistry({
    observer: () => {
      throw new Error("observer broke");
    },
    logger: { error: (e) => errors.push(e) },
  });
  const res = await registry.fetch(new Request(`${ORIGIN}/v2/`));
  assert.equal(res.status, 200);
  assert.equal(errors.length, 1);
});

events("request ids: a sane X-Request-Id is kept, anything else replaced; sent back", async () => {
  const registry = withRequestId(createRegistry());
  let res = await registry.fetch(
    new Request(`${ORIGIN}/v2/`, { headers: { "X-Request-Id": "abc-123" } }),
  );
  assert.equal(res.headers.get("X-Request-Id"), "abc-123");
  res = await registry.fetch(
    new Request(`${ORIGIN}/v2/`, { headers: { "X-Request-Id": "bad id\twith spaces" } }),
  );
  assert.match(res.headers.get("X-Request-Id")!, /^[0-9a-f-]{36}$/);
  res = await registry.fetch(
    new Request(`${ORIGIN}/v2/`, { headers: { "X-Request-Id": "x".repeat(129) } }),
  );
  assert.match(res.headers.get("X-Request-Id")!, /^[0-9a-f-]{36}$/);
  const request = new Request(`${ORIGIN}/v2/`);
  assert.equal(requestId(request), requestId(request), "stable per request");
  assert.notEqual(requestId(request), requestId(new Request(`${ORIGIN}/v2/`)));
  assert.ok(registry.storage, "the wrapper keeps the registry's other members");
});

events.run();
