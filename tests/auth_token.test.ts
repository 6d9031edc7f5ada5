/**
 * Token modes through `registry.fetch`: the built-in token service (GET and POST forms, claims,
 * intersection with the policy, anonymous grants, bad credentials), the route × method × caller
 * table with Bearer tokens, the mount rule and the catalog. The external issuer's bad tokens are
 * in auth_external.test.ts.
 */
import { suite } from "uvu";
import assert from "node:assert/strict";
import {
  decodeJwt,
  decodeProtectedHeader,
  exportPKCS8,
  generateKeyPair,
  type JWTPayload,
} from "jose";
import { tokenAuth } from "../lib/auth/token_mode.ts";
import { createRegistry, type Registry } from "../lib/registry.ts";
import {
  basicHeader,
  POLICY,
  repoCalls,
  request,
  ROUTES,
  seedWorld,
  USERS,
  type World,
} from "./support/auth.ts";

const REPO = "team/app";
const ALL = "pull,push,delete";

async function builtIn(
  options: Parameters<typeof tokenAuth>[0] = {},
): Promise<{ world: World; registry: Registry }> {
  const world = await seedWorld();
  const registry = createRegistry({
    storage: world.storage,
    auth: tokenAuth({ users: USERS, policy: POLICY, service: "reg.test", ...options }),
  });
  return { world, registry };
}

async function getToken(
  registry: Registry,
  scopes: string[],
  user?: string,
  password?: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const query = new URLSearchParams({ service: "reg.test" });
  for (const s of scopes) query.append("scope", s);
  const headers = user ? basicHeader(user, password ?? USERS[user as keyof typeof USERS]) : {};
  const res = await registry.fetch(new Request(`http://r/token?${query}`, { headers }));
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function tokenFor(registry: Registry, scopes: string[], user?: string): Promise<string> {
  const { status, body } = await getToken(registry, scopes, user);
  assert.equal(status, 200);
  return body.token as string;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

const service = suite("auth token service: /token");

service("GET: claims, header, lifetime; access = policy ∩ asked", async () => {
  const { registry } = await builtIn({ ttlSeconds: 120 });
  const before = Math.floor(Date.now() / 1000);
  const { status, body, headers } = await getToken(
    registry,
    [
      `repository:${REPO}:${ALL}`,
      "repository:bob/y:pull repository:public/p:pull,push",
      "registry:catalog:*",
    ],
    "bob",
  );
  assert.equal(status, 200);
  assert.equal(headers.get("Cache-Control"), "no-store");
  assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "issued_at", "token"]);
  assert.equal(body.token, body.access_token);
  assert.equal(body.expires_in, 120);
  const header = decodeProtectedHeader(body.token as string);
  assert.equal(header.alg, "ES256");
  assert.match(header.kid ?? "", /^[A-Za-z0-9_-]{43}$/);
  const claims = decodeJwt(body.token as string) as JWTPayload & { access: unknown };
  assert.equal(claims.iss, "reg.test");
  assert.equal(claims.aud, "reg.test");
  assert.equal(claims.sub, "bob");
  assert.ok(claims.iat! >= before && claims.nbf === claims.iat && claims.exp === claims.iat! + 120);
  assert.equal(new Date(body.issued_at as string).getTime(), claims.iat! * 1000);
  assert.match(claims.jti ?? "", /^[0-9a-f-]{36}$/);
  assert.deepEqual(claims.access, [
    { type: "repository", name: REPO, actions: ["pull"] },
    { type: "repository", name: "bob/y", actions: ["pull"] },
    { type: "repository", name: "public/p", actions: ["pull"] },
    { type: "registry", name: "catalog", actions: ["*"] },
  ]);
});

service("anonymous callers get only anonymous grants; admins everything", async () => {
  const { registry } = await builtIn();
  const anon = await getToken(registry, [
    `repository:public/p:${ALL}`,
    `repository:${REPO}:pull`,
    "registry:catalog:*",
  ]);
  assert.equal(anon.status, 200);
  const claims = decodeJwt(anon.body.token as string);
  assert.equal(claims.sub, "");
  assert.deepEqual(claims.access, [{ type: "repository", name: "public/p", actions: ["pull"] }]);
  const root = decodeJwt(await tokenFor(registry, [`repository:alice/x:*`], "root"));
  assert.deepEqual(root.access, [{
    type: "repository",
    name: "alice/x",
    actions: ["pull", "push", "delete"],
  }]);
});

service("bad credentials answer 401; bad service and scopes 400", async () => {
  const { registry } = await builtIn();
  for (const [user, password] of [["alice", "wrong"], ["nobody", "x"], ["alice", ""]]) {
    const res = await getToken(registry, [`repository:${REPO}:pull`], user, password);
    assert.equal(res.status, 401, `${user}:${password}`);
    assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Basic realm=/);
    assert.ok(!JSON.stringify(res.body).includes("wrong"));
  }
  const other = await registry.fetch(new Request("http://r/token?service=elsewhere"));
  assert.equal(other.status, 400);
  const bad = await registry.fetch(
    new Request("http://r/token?service=reg.test&scope=repository:a"),
  );
  assert.equal(bad.status, 400);
  assert.equal(
    (await registry.fetch(new Request("http://r/token", { method: "DELETE" }))).status,
    405,
  );
  const none = createRegistry();
  assert.equal(
    (await none.fetch(new Request("http://r/token"))).status,
    404,
    "no token service without token auth",
  );
});

service("POST: the OAuth2 password grant", async () => {
  const { registry } = await builtIn();
  const post = (fields: Record<string, string>, type = "application/x-www-form-urlencoded") =>
    registry.fetch(
      new Request("http://r/token", {
        method: "POST",
        headers: { "Content-Type": type },
        body: new URLSearchParams(fields).toString(),
      }),
    );
  const good = {
    grant_type: "password",
    username: "alice",
    password: USERS.alice,
    client_id: "test",
    service: "reg.test",
    scope: `repository:${REPO}:pull,push repository:bob/y:pull`,
  };
  let res = await post(good);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.scope, `repository:${REPO}:pull,push`);
  assert.equal(body.token, body.access_token);
  assert.deepEqual(decodeJwt(body.access_token).access, [{
    type: "repository",
    name: REPO,
    actions: ["pull", "push"],
  }]);
  res = await post({ ...good, password: "wrong" });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, "invalid_grant");
  res = await post({ ...good, grant_type: "refresh_token", refresh_token: "x" });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, "unsupported_grant_type");
  const { client_id: _c, ...noClient } = good;
  assert.equal((await post(noClient)).status, 400);
  assert.equal((await post({ ...good, service: "other" })).status, 400);
  assert.equal((await post(good, "application/json")).status, 400);
  assert.equal((await post({ ...good, pad: "x".repeat(70 * 1024) })).status, 400, "bounded form");
});

service("RSA and Ed25519 PEM keys sign RS256 and EdDSA tokens the registry accepts", async () => {
  for (const [gen, alg] of [["RS256", "RS256"], ["Ed25519", "EdDSA"]] as const) {
    const pair = await generateKeyPair(gen, { extractable: true });
    const { registry } = await builtIn({ privateKey: await exportPKCS8(pair.privateKey) });
    const token = await tokenFor(registry, [`repository:${REPO}:pull`], "alice");
    assert.equal(decodeProtectedHeader(token).alg, alg);
    const res = await registry.fetch(
      new Request(`http://r/v2/${REPO}/manifests/latest`, { headers: bearer(token) }),
    );
    assert.equal(res.status, 200, alg);
  }
});

const table = suite("auth token: route × method × caller");

table(
  "no token, a bad token, insufficient scope: 401 with the right challenge, storage untouched",
  async () => {
    const { world, registry } = await builtIn();
    const bob = await tokenFor(registry, [`repository:${REPO}:${ALL}`], "bob");
    const carol = await tokenFor(registry, [`repository:${REPO}:${ALL}`], "carol");
    for (const route of ROUTES) {
      const scope = route.action === "push" ? "pull,push" : route.action;
      const cases: Array<[Record<string, string>, string]> = [
        [
          {},
          `Bearer realm="http://registry.test/token",service="reg.test",scope="repository:${REPO}:${scope}"`,
        ],
        [bearer("not.a.jwt"), `,error="invalid_token"`],
        [{ Authorization: "Bearer " }, `,error="invalid_token"`],
        [basicHeader("alice", USERS.alice), `,error="invalid_token"`],
        [bearer(carol), `scope="repository:${REPO}:${scope}",error="insufficient_scope"`],
      ];
      if (route.action !== "pull") cases.push([bearer(bob), `,error="insufficient_scope"`]);
      for (const [auth, challenge] of cases) {
        const mark = world.calls.length;
        const res = await registry.fetch(request(route, REPO, world, auth));
        assert.equal(res.status, 401, `${route.label} ${JSON.stringify(auth)}`);
        const value = res.headers.get("WWW-Authenticate") ?? "";
        assert.ok(value.includes(challenge), `${route.label}: ${value} lacks ${challenge}`);
        if (route.method !== "HEAD") {
          assert.equal(
            (await res.json()).errors[0].code,
            "UNAUTHORIZED",
          );
        }
        assert.deepEqual(repoCalls(world, mark), [], route.label);
      }
    }
  },
);

table("tokens with the scope pass, on their repository only", async () => {
  for (const user of ["alice", "root", "bob"]) {
    const { world, registry } = await builtIn();
    const token = await tokenFor(registry, [`repository:${REPO}:${ALL}`], user);
    for (const route of ROUTES) {
      if (user === "bob" && route.action !== "pull") continue;
      const res = await registry.fetch(request(route, REPO, world, bearer(token)));
      await res.body?.cancel();
      if (route.allowed !== undefined) {
        assert.equal(res.status, route.allowed, `${route.label} as ${user}`);
      } else assert.ok(res.status !== 401 && res.status !== 403, `${route.label} as ${user}`);
      const other = await registry.fetch(request(route, "alice/x", world, bearer(token)));
      assert.equal(other.status, 401, `${route.label} as ${user} on another repository`);
      assert.match(other.headers.get("WWW-Authenticate") ?? "", /insufficient_scope/);
    }
  }
});

table("GET /v2/: 401 with the challenge without a valid token, 200 with one", async () => {
  const { registry } = await builtIn({ realm: "https://auth.example/token" });
  let res = await registry.fetch(new Request("http://r/v2/"));
  assert.equal(res.status, 401);
  assert.equal(
    res.headers.get("WWW-Authenticate"),
    'Bearer realm="https://auth.example/token",service="reg.test"',
  );
  res = await registry.fetch(new Request("http://r/v2/", { headers: bearer("x.y.z") }));
  assert.equal(res.status, 401);
  const anon = await tokenFor(registry, []);
  assert.equal(
    (await registry.fetch(new Request("http://r/v2/", { headers: bearer(anon) }))).status,
    200,
  );
});

table("the mount needs pull on the source", async () => {
  const { world, registry } = await builtIn();
  const digest = world.images["alice/x"].layers[0].digest;
  const bob = await tokenFor(
    registry,
    ["repository:bob/y:pull,push", "repository:alice/x:pull"],
    "bob",
  );
  const root = await tokenFor(
    registry,
    ["repository:bob/y:pull,push", "repository:alice/x:pull"],
    "root",
  );
  const mount = (token: string) =>
    registry.fetch(
      new Request(`http://r/v2/bob/y/blobs/uploads/?mount=${digest}&from=alice/x`, {
        method: "POST",
        headers: bearer(token),
      }),
    );
  const mark = world.calls.length;
  assert.equal((await mount(bob)).status, 202);
  assert.deepEqual(repoCalls(world, mark).filter(([, r]) => r.startsWith("alice/")), []);
  assert.equal((await mount(root)).status, 201);
});

table("catalog: needs registry:catalog:*, then lists what the subject may pull", async () => {
  const { registry } = await builtIn();
  const list = (token?: string) =>
    registry.fetch(new Request("http://r/v2/_catalog", { headers: token ? bearer(token) : {} }));
  let res = await list();
  assert.equal(res.status, 401);
  assert.match(res.headers.get("WWW-Authenticate") ?? "", /scope="registry:catalog:\*"/);
  res = await list(await tokenFor(registry, [`repository:${REPO}:pull`], "bob"));
  assert.equal(res.status, 401);
  assert.match(res.headers.get("WWW-Authenticate") ?? "", /insufficient_scope/);
  res = await list(await tokenFor(registry, ["registry:catalog:*"], "bob"));
  assert.deepEqual(await res.json(), { repositories: ["bob/y", "public/p", "team/app"] });
});

for (const s of [service, table]) s.run();
