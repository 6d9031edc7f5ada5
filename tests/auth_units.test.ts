import { suite } from "uvu";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { exportPKCS8, generateKeyPair } from "jose";
import { createBasicAuthenticator, parseBasic } from "../lib/auth/basic.ts";
import { basicChallenge, bearerChallenge } from "../lib/auth/challenge.ts";
import { HtpasswdError, parseHtpasswd } from "../lib/auth/htpasswd.ts";
import { loadSigningKey, SigningKeyError } from "../lib/auth/keys.ts";
import { createBearerVerifier, InvalidTokenError } from "../lib/auth/bearer.ts";
import { createTokenService } from "../lib/auth/token_service.ts";
import { defaultPolicy, parsePolicy, PolicyError } from "../lib/auth/policy.ts";
import { neededAccess } from "../lib/auth/route_access.ts";
import { formatScope, parseScope, parseScopes } from "../lib/auth/scope.ts";

/** A bcrypt line made by Apache's own tool, as an operator would. */
function htpasswdLine(user: string, password: string): string {
  return execFileSync("htpasswd", ["-nbB", "-C", "4", user, password], { encoding: "utf8" }).trim();
}

const htpasswd = suite("auth: htpasswd");

htpasswd("parses htpasswd -B lines, comments and blank lines", () => {
  const alice = htpasswdLine("alice", "secret");
  const entries = parseHtpasswd(`# team\n\n${alice}\r\n${alice.replace("alice", "bob")}\n`);
  assert.deepEqual(entries.map((e) => e.user), ["alice", "bob"]);
  assert.match(entries[0].hash, /^\$2y\$04\$/);
});

htpasswd("refuses any other hash, naming the line", () => {
  const md5 = execFileSync("htpasswd", ["-nbm", "carol", "x"], { encoding: "utf8" }).trim();
  const sha = execFileSync("htpasswd", ["-nbs", "dave", "x"], { encoding: "utf8" }).trim();
  for (
    const [text, line] of [
      [`${htpasswdLine("a", "b")}\n${md5}`, 2],
      [`\n\n${sha}`, 3],
      ["eve:plaintext", 1],
      ["no-colon", 1],
      ["frank:$2x$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", 1],
    ] as const
  ) {
    assert.throws(() => parseHtpasswd(text), (e: unknown) => {
      assert.ok(e instanceof HtpasswdError);
      assert.match(e.message, new RegExp(`line ${line}\\b`));
      return true;
    });
  }
  assert.throws(
    () => parseHtpasswd(`${htpasswdLine("a", "b")}\n${htpasswdLine("a", "c")}`),
    /twice/,
  );
});

const basic = suite("auth: Basic authenticator");

basic("parses Basic headers, refuses malformed ones", () => {
  assert.deepEqual(parseBasic(`Basic ${btoa("alice:pa:ss")}`), {
    user: "alice",
    password: "pa:ss",
  });
  assert.deepEqual(parseBasic(`basic   ${btoa("a:")}`), { user: "a", password: "" });
  const utf8 = btoa(String.fromCharCode(...new TextEncoder().encode("zoë:pässword")));
  assert.deepEqual(parseBasic(`Basic ${utf8}`), { user: "zoë", password: "pässword" });
  for (
    const bad of [
      "Bearer abc",
      "Basic",
      "Basic !!!",
      `Basic ${btoa("nocolon")}`,
      `Basic ${btoa(":x")}`,
      "Basic /w==",
    ]
  ) {
    assert.equal(parseBasic(bad), undefined, bad);
  }
});

basic("verifies htpasswd bcrypt entries ($2y$ from htpasswd, $2a$/$2b$ variants)", async () => {
  const line = htpasswdLine("alice", "secret");
  const hash = line.slice("alice:".length);
  const auth = createBasicAuthenticator({
    htpasswd: [
      { user: "alice", hash },
      { user: "bob", hash: hash.replace("$2y$", "$2a$") },
      { user: "carol", hash: hash.replace("$2y$", "$2b$") },
    ],
    cacheTtlMs: 0,
  });
  for (const user of ["alice", "bob", "carol"]) {
    assert.equal(await auth.verify(user, "secret"), true, user);
    assert.equal(await auth.verify(user, "Secret"), false, user);
  }
  assert.equal(await auth.verify("mallory", "secret"), false);
  assert.equal(await auth.verify("alice", ""), false);
});

basic("passwords beyond 72 bytes: only the first 72 count, as bcrypt defines", async () => {
  const long = "x".repeat(72);
  const auth = createBasicAuthenticator({ htpasswd: htpasswdLine("a", long), cacheTtlMs: 0 });
  assert.equal(await auth.verify("a", long), true);
  assert.equal(await auth.verify("a", `${long}more`), true);
  assert.equal(await auth.verify("a", long.slice(1)), false);
});

basic("remembers successes only: a wrong password after a right one is still refused", async () => {
  const auth = createBasicAuthenticator({ htpasswd: htpasswdLine("alice", "secret") });
  let t0 = performance.now();
  assert.equal(await auth.verify("alice", "secret"), true);
  const first = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < 20; i++) assert.equal(await auth.verify("alice", "secret"), true);
  const cached = (performance.now() - t0) / 20;
  assert.ok(cached < first, `cached check (${cached} ms) should beat bcrypt (${first} ms)`);
  assert.equal(await auth.verify("alice", "wrong"), false);
  assert.equal(await auth.verify("alice", "wrong"), false);
  assert.equal(await auth.verify("alice", "secret"), true);
});

basic("the cache expires, and concurrent checks share one run", async () => {
  const auth = createBasicAuthenticator({ users: { u: "p" }, cacheTtlMs: 20 });
  const results = await Promise.all(Array.from({ length: 10 }, () => auth.verify("u", "p")));
  assert.deepEqual(results, Array(10).fill(true));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(await auth.verify("u", "p"), true);
  assert.equal(await auth.verify("u", "q"), false);
  assert.equal(await auth.verify("u:x", "p"), false);
});

basic("a user in both htpasswd and users is an error", () => {
  assert.throws(
    () => createBasicAuthenticator({ htpasswd: htpasswdLine("a", "b"), users: { a: "c" } }),
    /both/,
  );
});

const policy = suite("auth: policy");

const ISSUE_POLICY = {
  admins: ["root"],
  repositories: [
    {
      match: "public/**",
      anonymous: ["pull"],
      users: { "*": ["pull"], alice: ["pull", "push", "delete"] },
    },
    { match: "alice/**", users: { alice: ["pull", "push", "delete"] } },
    { match: "**", users: { "*": ["pull"] } },
  ],
};

policy("the issue's example", () => {
  const p = parsePolicy(JSON.stringify(ISSUE_POLICY));
  const as = (who: string | undefined, repo: string) => [...p.allowed(who, repo)].sort();
  assert.deepEqual(as(undefined, "public/app"), ["pull"]);
  assert.deepEqual(as(undefined, "public"), ["pull"], "** matches no segment too");
  assert.deepEqual(as(undefined, "public/a/b/c"), ["pull"]);
  assert.deepEqual(as(undefined, "publicity"), []);
  assert.deepEqual(as(undefined, "alice/x"), []);
  assert.deepEqual(as("bob", "public/app"), ["pull"]);
  assert.deepEqual(as("alice", "public/app"), ["delete", "pull", "push"]);
  assert.deepEqual(as("alice", "alice/x/y"), ["delete", "pull", "push"]);
  assert.deepEqual(as("bob", "alice/x"), [], "first match decides: ** is not consulted");
  assert.deepEqual(as("bob", "other"), ["pull"]);
  assert.deepEqual(as("root", "alice/x"), ["delete", "pull", "push"]);
  assert.equal(p.isAdmin("root"), true);
  assert.equal(p.isAdmin(undefined), false);
});

policy("* matches within one segment, ** any number", () => {
  const p = parsePolicy({
    repositories: [
      { match: "team-*/app", anonymous: ["pull"] },
      { match: "a/**/z", anonymous: ["push"] },
      { match: "*", anonymous: ["delete"] },
    ],
  });
  const as = (repo: string) => [...p.allowed(undefined, repo)];
  assert.deepEqual(as("team-x/app"), ["pull"]);
  assert.deepEqual(as("team-x/y/app"), []);
  assert.deepEqual(as("a/z"), ["push"]);
  assert.deepEqual(as("a/b/c/z"), ["push"]);
  assert.deepEqual(as("a/b/c/zz"), []);
  assert.deepEqual(as("single"), ["delete"]);
  assert.deepEqual(as("two/segments"), []);
});

policy("a bad policy is an error naming the problem", () => {
  for (
    const [doc, message] of [
      ["{", /not valid JSON/],
      ["[]", /must be a JSON object/],
      [{ admin: ["x"] }, /unknown key "admin"/],
      [{ admins: "root" }, /admins/],
      [{ repositories: {} }, /repositories: expected an array/],
      [{ repositories: [{ match: "A/**" }] }, /repositories\[0\]\.match/],
      [{ repositories: [{ match: "a//b" }] }, /repositories\[0\]\.match/],
      [
        { repositories: [{ match: "a", anonymous: ["read"] }] },
        /repositories\[0\]\.anonymous.*"read"/,
      ],
      [
        { repositories: [{ match: "a" }, { match: "b", users: { bob: ["pull", "write"] } }] },
        /repositories\[1\]\.users\["bob"\].*"write"/,
      ],
      [{ repositories: [{ match: "a", user: {} }] }, /unknown key "user"/],
    ] as const
  ) {
    assert.throws(() => parsePolicy(doc as never), (e: unknown) => {
      assert.ok(e instanceof PolicyError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
});

policy("without a policy: authenticated users everything, anonymous nothing", () => {
  assert.deepEqual([...defaultPolicy().allowed("x", "a")], ["pull", "push", "delete"]);
  assert.deepEqual([...defaultPolicy().allowed(undefined, "a")], []);
});

const scopes = suite("auth: scopes, challenges, route needs");

scopes("parse and format", () => {
  assert.deepEqual(parseScope("repository:a/b:pull,push"), {
    type: "repository",
    name: "a/b",
    actions: ["pull", "push"],
  });
  assert.deepEqual(parseScope("repository:localhost:5000/a:pull"), {
    type: "repository",
    name: "localhost:5000/a",
    actions: ["pull"],
  });
  assert.deepEqual(parseScope("registry:catalog:*")?.actions, ["*"]);
  assert.equal(parseScope("repository(plugin):a:pull")?.type, "repository");
  for (
    const bad of [
      "",
      "repository",
      "repository:a",
      "repository::pull",
      ":a:pull",
      "repository:a:pu ll",
      "repository:a:",
    ]
  ) {
    assert.equal(parseScope(bad), undefined, bad);
  }
  assert.equal(
    parseScopes(["repository:a:pull repository:b:push", "registry:catalog:*"])?.length,
    3,
  );
  assert.equal(parseScopes(["repository:a:pull bad"]), undefined);
  assert.equal(
    formatScope({ type: "repository", name: "a", actions: ["pull", "push"] }),
    "repository:a:pull,push",
  );
});

scopes("challenges quote their values", () => {
  assert.equal(basicChallenge('r"e'), 'Basic realm="r\\"e", charset="UTF-8"');
  assert.equal(
    bearerChallenge({
      realm: "https://h/token",
      service: "s",
      scope: "repository:a:pull",
      error: "insufficient_scope",
    }),
    'Bearer realm="https://h/token",service="s",scope="repository:a:pull",error="insufficient_scope"',
  );
});

scopes("each route and method needs the right action", () => {
  const act = (route: string, method: string) => {
    const need = neededAccess(route, method);
    return need?.kind === "repository" ? need.actions.join() : need?.kind;
  };
  assert.equal(act("base", "GET"), "login");
  assert.equal(act("catalog", "GET"), "catalog");
  for (const route of ["manifest", "blob", "tags", "referrers", "upload"]) {
    assert.equal(act(route, "GET"), "pull", route);
    assert.equal(act(route, "HEAD"), "pull", route);
  }
  assert.equal(act("manifest", "PUT"), "push");
  assert.equal(act("manifest", "DELETE"), "delete");
  assert.equal(act("blob", "DELETE"), "delete");
  assert.equal(act("uploads", "POST"), "push");
  for (const method of ["PATCH", "PUT", "DELETE"]) {
    assert.equal(act("upload", method), "push", method);
  }
  assert.equal(act("token", "GET"), undefined);
});

const keys = suite("auth: signing keys");

keys("PKCS#8 PEM keys choose their algorithm; kid is the thumbprint", async () => {
  for (
    const [gen, alg] of [["ES256", "ES256"], ["RS256", "RS256"], ["Ed25519", "EdDSA"]] as const
  ) {
    const pair = await generateKeyPair(gen, { extractable: true });
    const key = await loadSigningKey(await exportPKCS8(pair.privateKey));
    assert.equal(key.alg, alg);
    assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(key.publicJwk.kid, key.kid);
    assert.equal("d" in key.publicJwk, false, "no private part in the public JWK");
  }
});

keys("keys made by openssl genpkey, as the README says", async () => {
  for (
    const [args, alg] of [
      [["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "ES256"],
      [["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "RS256"],
      [["-algorithm", "ed25519"], "EdDSA"],
    ] as const
  ) {
    const pem = execFileSync("openssl", ["genpkey", ...args], { encoding: "utf8" });
    assert.equal((await loadSigningKey(pem)).alg, alg);
  }
  const sec1 = execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout"], {
    encoding: "utf8",
  });
  await assert.rejects(loadSigningKey(sec1), /openssl pkcs8 -topk8/);
});

keys("refuses weak, unsupported and non-PKCS#8 keys", async () => {
  const small = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const p384 = await generateKeyPair("ES384", { extractable: true });
  for (
    const pem of [
      await exportPKCS8(small.privateKey),
      await exportPKCS8(p384.privateKey),
      "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
      "not a key",
    ]
  ) {
    await assert.rejects(loadSigningKey(pem), SigningKeyError);
  }
});

const issued = suite("auth: tokens signed here");

issued(
  "the verifier trusts a token the built-in service issued, without checking it again",
  async () => {
    let jwksCalls = 0;
    const verifier = createBearerVerifier({
      issuer: "iss",
      service: "svc",
      jwks: () => {
        jwksCalls++;
        return Promise.resolve({ keys: [] });
      },
    });
    const access = [{ type: "repository", name: "a/b", actions: ["pull"] }];
    const exp = Math.floor(Date.now() / 1000) + 60;
    await verifier.trustIssued("header.claims.signature", { subject: "alice", access }, exp);
    assert.deepEqual(await verifier.verify("header.claims.signature"), {
      subject: "alice",
      access,
    });
    assert.equal(jwksCalls, 0);
    // Any other token is still verified (and this one is not valid: no key).
    await assert.rejects(verifier.verify("other.claims.signature"), InvalidTokenError);
    // An expired one is not remembered.
    await verifier.trustIssued("old.claims.signature", { subject: "alice", access }, 1);
    await assert.rejects(verifier.verify("old.claims.signature"), InvalidTokenError);
  },
);

issued(
  "tokenAuth: a fresh token is accepted on first use; the service reports every token",
  async () => {
    const seen: string[] = [];
    const service = createTokenService({
      allowed: async () => new Set(["pull" as const]),
      onIssued: (token, claims) => {
        seen.push(token);
        assert.deepEqual(claims.access, [{ type: "repository", name: "a/b", actions: ["pull"] }]);
        assert.equal(claims.subject, undefined);
      },
    });
    const { token } = await service.issue({ scheme: "anonymous" }, [
      parseScope("repository:a/b:pull,push")!,
    ]);
    assert.deepEqual(seen, [token]);
  },
);

for (const s of [htpasswd, basic, policy, scopes, keys, issued]) s.run();
