/**
 * External-issuer mode through `registry.fetch`: the registry only verifies. A valid token and
 * clock skew; forged, expired, not-yet-valid, wrong-audience, wrong-issuer, no-exp, unknown-kid,
 * no-kid, tampered, `alg: none`, HS256 and other-repository tokens; the catalog grant.
 */
import { suite } from "uvu";
import assert from "node:assert/strict";
import { base64url, exportJWK, generateKeyPair, SignJWT } from "jose";
import { externalTokenAuth } from "../lib/auth/token_mode.ts";
import { createRegistry } from "../lib/registry.ts";
import { repoCalls, seedWorld } from "./support/auth.ts";

const REPO = "team/app";
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

const external = suite("auth token: external issuer");

async function externalWorld() {
  const world = await seedWorld();
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const registry = createRegistry({
    storage: world.storage,
    auth: externalTokenAuth({
      realm: "https://auth.example/token",
      service: "reg.test",
      issuer: "auth.example",
      jwks: { keys: [jwk] },
    }),
  });
  const now = Math.floor(Date.now() / 1000);
  const sign = (
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    key: CryptoKey = pair.privateKey,
  ) =>
    new SignJWT({
      iss: "auth.example",
      aud: "reg.test",
      sub: "alice",
      iat: now,
      nbf: now,
      exp: now + 300,
      access: [{ type: "repository", name: REPO, actions: ["pull"] }],
      ...claims,
    }).setProtectedHeader({ alg: "ES256", kid: "k1", ...header }).sign(key);
  const pull = (token: string) =>
    registry.fetch(new Request(`http://r/v2/${REPO}/manifests/latest`, { headers: bearer(token) }));
  return { world, registry, sign, pull, now, jwk, pair };
}

external("a valid token passes; skew up to 60 s is tolerated", async () => {
  const { sign, pull, now } = await externalWorld();
  assert.equal((await pull(await sign())).status, 200);
  assert.equal((await pull(await sign({ exp: now - 30 }))).status, 200);
  assert.equal((await pull(await sign({ nbf: now + 30 }))).status, 200);
});

external(
  "forged, expired, not yet valid, wrong audience or issuer, no exp: invalid_token",
  async () => {
    const { world, sign, pull, now } = await externalWorld();
    const other = await generateKeyPair("ES256");
    const cases: Record<string, string> = {
      forged: await sign({}, {}, other.privateKey),
      expired: await sign({ exp: now - 120 }),
      "not yet valid": await sign({ nbf: now + 120 }),
      "wrong audience": await sign({ aud: "other.test" }),
      "audience list without us": await sign({ aud: ["a", "b"] }),
      "wrong issuer": await sign({ iss: "evil.example" }),
      "no exp": await sign({ exp: undefined }),
      "unknown kid": await sign({}, { kid: "k2" }),
      "no kid": await sign({}, { kid: undefined }),
      "malformed access": await sign({
        access: [{ type: "repository", name: REPO, actions: "pull" }],
      }),
      "tampered payload": (await sign()).replace(
        /\.[^.]+\./,
        `.${
          base64url.encode(
            JSON.stringify({
              iss: "auth.example",
              aud: "reg.test",
              exp: now + 300,
              access: [{ type: "repository", name: REPO, actions: ["pull", "push", "delete"] }],
            }),
          )
        }.`,
      ),
    };
    for (const [label, token] of Object.entries(cases)) {
      const mark = world.calls.length;
      const res = await pull(token);
      assert.equal(res.status, 401, label);
      assert.match(res.headers.get("WWW-Authenticate") ?? "", /error="invalid_token"/, label);
      assert.ok(
        !(await res.text()).includes(token.slice(0, 20)),
        `${label}: the token is not echoed`,
      );
      assert.deepEqual(repoCalls(world, mark), [], label);
    }
  },
);

external("alg none and HS256 (even keyed with the public key) are refused", async () => {
  const { pull, now, jwk } = await externalWorld();
  const claims = {
    iss: "auth.example",
    aud: "reg.test",
    sub: "alice",
    exp: now + 300,
    access: [{ type: "repository", name: REPO, actions: ["pull"] }],
  };
  const enc = (v: unknown) => base64url.encode(JSON.stringify(v));
  const none = `${enc({ alg: "none", kid: "k1" })}.${enc(claims)}.`;
  assert.equal((await pull(none)).status, 401);
  const secret = new TextEncoder().encode(JSON.stringify(jwk));
  for (const key of [secret, new TextEncoder().encode("shared-secret-of-32-bytes-at-least!!")]) {
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(key);
    assert.equal((await pull(hs)).status, 401);
  }
});

external(
  "a token for another repository, or with too few actions: insufficient_scope",
  async () => {
    const { registry, sign } = await externalWorld();
    const other = await sign({
      access: [{ type: "repository", name: "alice/x", actions: ["pull", "push", "delete"] }],
    });
    let res = await registry.fetch(
      new Request(`http://r/v2/${REPO}/manifests/latest`, { headers: bearer(other) }),
    );
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get("WWW-Authenticate"),
      `Bearer realm="https://auth.example/token",service="reg.test",scope="repository:${REPO}:pull",error="insufficient_scope"`,
    );
    const pullOnly = await sign();
    res = await registry.fetch(
      new Request(`http://r/v2/${REPO}/blobs/uploads/`, {
        method: "POST",
        headers: bearer(pullOnly),
      }),
    );
    assert.equal(res.status, 401);
    assert.match(
      res.headers.get("WWW-Authenticate") ?? "",
      /scope="repository:team\/app:pull,push",error="insufficient_scope"/,
    );
    assert.equal(
      (await registry.fetch(new Request("http://r/token"))).status,
      404,
      "no token endpoint in external mode",
    );
  },
);

external("catalog: registry:catalog:* lists everything", async () => {
  const { registry, sign } = await externalWorld();
  let res = await registry.fetch(
    new Request("http://r/v2/_catalog", { headers: bearer(await sign()) }),
  );
  assert.equal(res.status, 401);
  res = await registry.fetch(
    new Request("http://r/v2/_catalog", {
      headers: bearer(
        await sign({ access: [{ type: "registry", name: "catalog", actions: ["*"] }] }),
      ),
    }),
  );
  assert.deepEqual(await res.json(), {
    repositories: ["alice/x", "bob/y", "public/p", "team/app"],
  });
});

external.run();
