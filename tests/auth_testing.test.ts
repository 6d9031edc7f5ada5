/**
 * The testing toolkit with access control: each mode in createTestRegistry (seeding and
 * inspection bypass it), a client's login and token flow over a real socket, and recordings that
 * never hold credentials or tokens.
 */
import { suite } from "uvu";
import assert from "node:assert/strict";
import { createRecorder, createTestRegistry, startTestRegistry } from "../lib/testing/mod.ts";

const USERS = { alice: "alice-pw", bob: "bob-pw" };
const POLICY = {
  repositories: [
    {
      match: "app",
      anonymous: ["pull" as const],
      users: { alice: ["pull" as const, "push" as const] },
    },
  ],
};
const basic = (user: string, password: string) => ({
  Authorization: `Basic ${btoa(`${user}:${password}`)}`,
});

/** Follow a Bearer challenge as a client does: parse it, fetch a token from its realm. */
async function login(
  challenge: string,
  fetcher: (url: string, init?: RequestInit) => Promise<Response>,
  auth: Record<string, string> = {},
): Promise<string> {
  const params = Object.fromEntries(
    [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
  assert.ok(challenge.startsWith("Bearer "), challenge);
  const query = new URLSearchParams({ service: params.service });
  if (params.scope) query.set("scope", params.scope);
  const res = await fetcher(`${params.realm}?${query}`, { headers: auth });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

const modes = suite("auth testing toolkit: modes");

modes("basic: a user list; seeding and inspection bypass access control", async () => {
  const registry = createTestRegistry({ auth: { mode: "basic", users: USERS, policy: POLICY } });
  const image = await registry.seed.image("app", { tag: "latest", layers: ["x"] });
  await registry.seed.image("secret", { tag: "latest" });
  const secret = await registry.inspect.image("secret", "latest");
  assert.ok(secret?.manifest, "inspection bypasses access control");
  assert.equal((await registry.fetch("/v2/")).status, 401);
  assert.equal((await registry.fetch("/v2/", { headers: basic("alice", "no") })).status, 401);
  assert.equal(
    (await registry.fetch("/v2/", { headers: basic("alice", USERS.alice) })).status,
    200,
  );
  assert.equal((await registry.fetch("/v2/app/manifests/latest")).status, 200, "anonymous pull");
  assert.equal(
    (await registry.fetch("/v2/secret/manifests/latest", { headers: basic("bob", USERS.bob) }))
      .status,
    403,
  );
  const res = await registry.fetch(`/v2/app/blobs/${image.layers[0].digest}`, {
    headers: basic("alice", USERS.alice),
  });
  assert.equal(await res.text(), "x");
  await registry.reset({ storage: true });
  assert.equal(
    (await registry.fetch("/v2/app/manifests/latest")).status,
    404,
    "reset keeps access control",
  );
  await registry.seed.image("app", { tag: "latest" });
  assert.equal(
    (await registry.fetch("/v2/app/manifests/latest", { headers: basic("bob", "x") })).status,
    401,
  );
});

modes("token: the built-in service over a real socket, as a client logs in", async () => {
  const registry = await startTestRegistry({
    auth: { mode: "token", users: USERS, policy: POLICY },
  });
  try {
    await registry.seed.image("app", { tag: "latest", layers: ["x"] });
    const url = `${registry.url}/v2/app/manifests/latest`;
    let res = await fetch(url, { method: "PUT" });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    const challenge = res.headers.get("WWW-Authenticate") ?? "";
    assert.ok(challenge.includes(`realm="${registry.url}/token"`), challenge);
    assert.ok(challenge.includes(`scope="repository:app:pull,push"`), challenge);
    const anonymous = await login(challenge, fetch);
    res = await fetch(url, { headers: { Authorization: `Bearer ${anonymous}` } });
    assert.equal(res.status, 200, "anonymous token pulls");
    await res.body?.cancel();
    res = await fetch(url, { method: "PUT", headers: { Authorization: `Bearer ${anonymous}` } });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    assert.match(res.headers.get("WWW-Authenticate") ?? "", /insufficient_scope/);
    const token = await login(challenge, fetch, basic("alice", USERS.alice));
    res = await fetch(url, {
      method: "PUT",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/vnd.oci.image.manifest.v1+json",
      },
      body: "{}",
    });
    assert.equal(res.status, 400, "alice may push: the manifest itself is refused");
    await res.body?.cancel();
    // Recordings keep the scheme, never the credentials or the token.
    const recorded = JSON.stringify(registry.requests.all.map((r) => r.requestHeaders));
    assert.ok(
      recorded.includes("Bearer [redacted]") && recorded.includes("Basic [redacted]"),
      recorded,
    );
    assert.ok(
      !recorded.includes(token.slice(0, 16)) && !recorded.includes(btoa(`alice:${USERS.alice}`)),
    );
  } finally {
    await registry.close();
  }
});

modes("external: tokens of the test's issuer, whose realm is elsewhere", async () => {
  const registry = createTestRegistry({
    auth: {
      mode: "external",
      users: USERS,
      policy: POLICY,
      realm: "https://auth.test/token",
      service: "reg",
    },
  });
  assert.ok(registry.issuer);
  await registry.seed.image("app", { tag: "latest" });
  const res = await registry.fetch("/v2/app/manifests/latest");
  assert.equal(res.status, 401);
  const challenge = res.headers.get("WWW-Authenticate") ?? "";
  assert.ok(
    challenge.startsWith('Bearer realm="https://auth.test/token",service="reg"'),
    challenge,
  );
  // The issuer's own endpoint, as the client would reach it at the realm.
  const token = await login(
    challenge,
    (url, init) => registry.issuer!.fetch(new Request(url, init)),
    basic("alice", USERS.alice),
  );
  const ok = await registry.fetch("/v2/app/manifests/latest", {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(ok.status, 200);
  assert.equal((await registry.fetch("/token")).status, 404);
  const minted = await registry.issuer!.issue({ scheme: "basic", subject: "bob" }, [{
    type: "repository",
    name: "app",
    actions: ["pull"],
  }]);
  const bob = await registry.fetch("/v2/app/manifests/latest", {
    headers: { Authorization: `Bearer ${minted.token}` },
  });
  assert.equal(bob.status, 200, "bob has the anonymous pull of app");
});

const recording = suite("auth testing toolkit: recordings");

recording("Authorization, Proxy-Authorization and Cookie keep only their scheme", async () => {
  const recorder = createRecorder({
    headers: ["Authorization", "Proxy-Authorization", "Cookie", "Accept"],
  });
  const fetch = recorder.wrap(async () => new Response(null, { status: 204 }));
  await fetch(
    new Request("http://r/v2/", {
      headers: {
        Authorization: "Bearer abc.def.ghi",
        "Proxy-Authorization": "Basic dTpw",
        Cookie: "session=xyz",
        Accept: "*/*",
      },
    }),
  );
  assert.deepEqual(recorder.log.all[0].requestHeaders, {
    Authorization: "Bearer [redacted]",
    "Proxy-Authorization": "Basic [redacted]",
    Cookie: "[redacted]",
    Accept: "*/*",
  });
});

for (const s of [modes, recording]) s.run();
