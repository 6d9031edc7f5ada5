/**
 * The CLI's access-control flags: the combinations that are usage errors (exit 2, saying why), the
 * files that stop the start (exit 1, one line naming the flag, file and problem), the exposure
 * warnings (loopback or not, access control or not, TLS or not), and each mode served by the CLI
 * process on the runtime running this file: Basic with a policy, the built-in token service with an
 * RSA key, and an external issuer's JWKS.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { exportJWK, exportPKCS8, generateKeyPair, SignJWT } from "jose";
import { suite } from "uvu";
import { parseArgs, USAGE, UsageError } from "../lib/cli/args.ts";
import { createRegistry } from "../lib/registry.ts";
import {
  accessFromOptions,
  AuthConfigError,
  exposureWarnings,
  isLoopback,
} from "../lib/cli/auth_config.ts";
import { detectRuntime } from "../lib/server/serve.ts";
import { basicHeader } from "./support/auth.ts";
import { type ChildRun, spawnCli } from "./support/cli_process.ts";

const RUNTIME = detectRuntime();
const test = suite(`cli auth (${RUNTIME})`);

let dir = "";
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
let users = "";
let policy = "";

/** An htpasswd line made by Apache's own tool. */
function htpasswdLine(user: string, password: string): string {
  return execFileSync("htpasswd", ["-nbB", "-C", "4", user, password], { encoding: "utf8" }).trim();
}

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "fetch-registry-cli-auth-"));
  users = file("users", `${htpasswdLine("alice", "alice-pw")}\n${htpasswdLine("bob", "bob-pw")}\n`);
  policy = file(
    "access.json",
    JSON.stringify({
      repositories: [
        { match: "public/**", anonymous: ["pull"], users: { "*": ["pull"], alice: ["push"] } },
        { match: "**", users: { alice: ["pull", "push", "delete"] } },
      ],
    }),
  );
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test("flag combinations that cannot work are usage errors that say why", () => {
  const cases: [string[], RegExp][] = [
    [["--tls-cert", "c"], /--tls-cert needs --tls-key/],
    [["--tls-key", "k"], /--tls-key needs --tls-cert/],
    [["--token-key", "k"], /--token-key needs --htpasswd/],
    [
      ["--token-key", "k", "--htpasswd", "u", "--token-jwks", "j", "--token-realm", "http://a"],
      /exclude each other/,
    ],
    [["--token-jwks", "j"], /--token-jwks needs --token-realm/],
    [
      ["--token-jwks", "j", "--token-realm", "http://a", "--htpasswd", "u"],
      /--htpasswd does not apply/,
    ],
    [
      ["--token-jwks", "j", "--token-realm", "http://a", "--access", "p"],
      /--access does not apply/,
    ],
    [
      ["--token-jwks", "j", "--token-realm", "http://a", "--token-ttl", "60"],
      /--token-ttl does not apply/,
    ],
    [["--token-realm", "http://a"], /--token-realm needs --token-jwks/],
    [["--token-service", "s"], /--token-service needs --token-key/],
    [["--token-issuer", "s", "--htpasswd", "u"], /--token-issuer needs --token-key/],
    [["--token-ttl", "60"], /--token-ttl needs --token-key/],
    [["--access", "p"], /--access needs users/],
    [["--token-ttl", "0"], /--token-ttl must be a whole number/],
    [["--token-ttl", "5m"], /--token-ttl must be a whole number/],
    [["--token-realm", "auth.example/token", "--token-jwks", "j"], /--token-realm must be an http/],
    [["--htpasswd"], /--htpasswd needs a value/],
    [["--htpasswd="], /--htpasswd needs a value/],
  ];
  for (
    const flag of ["--htpasswd", "--access", "--token-key", "--token-service", "--token-issuer"]
      .concat(["--token-ttl", "--token-realm", "--token-jwks", "--tls-cert", "--tls-key"])
  ) {
    assert.match(USAGE, new RegExp(`^  ${flag} [A-Z]+ `, "m"), flag);
  }
  for (const [args, why] of cases) {
    assert.throws(
      () => parseArgs(args),
      (e: unknown) => e instanceof UsageError && why.test(e.message),
      args.join(" "),
    );
  }
  const ok = parseArgs([
    "--htpasswd=u",
    "--access",
    "p",
    "--token-key",
    "k",
    "--token-service",
    "reg",
    "--token-issuer",
    "iss",
    "--token-ttl",
    "60",
    "--token-realm",
    "https://r.example/token",
    "--tls-cert",
    "c",
    "--tls-key",
    "k2",
  ]);
  assert.deepEqual(
    [
      ok.htpasswd,
      ok.access,
      ok.tokenKey,
      ok.tokenService,
      ok.tokenIssuer,
      ok.tokenTtl,
      ok.tokenRealm,
      ok.tlsCert,
      ok.tlsKey,
    ],
    ["u", "p", "k", "reg", "iss", 60, "https://r.example/token", "c", "k2"],
  );
});

test("bad files stop the start with a message naming flag, file and problem", async () => {
  const bad = async (args: string[], why: RegExp) => {
    await assert.rejects(
      accessFromOptions(parseArgs(args)),
      (e: unknown) => e instanceof AuthConfigError && why.test(e.message),
      args.join(" "),
    );
  };
  const md5 = file(
    "md5",
    `${htpasswdLine("alice", "x")}\n${
      execFileSync("htpasswd", ["-nbm", "carol", "x"], { encoding: "utf8" })
    }`,
  );
  await bad(
    ["--htpasswd", md5],
    new RegExp(`^--htpasswd ${md5}: htpasswd line 2 \\(user "carol"\\): not a bcrypt hash`),
  );
  await bad(
    ["--htpasswd", join(dir, "none")],
    /^--htpasswd \S+none: cannot read it: no such file$/,
  );
  await bad(["--htpasswd", dir], /cannot read it/);
  await bad(
    ["--htpasswd", users, "--access", file("p1", "{")],
    /^--access \S+p1: the policy is not valid JSON/,
  );
  await bad(
    [
      "--htpasswd",
      users,
      "--access",
      file("p2", '{"repositories":[{"match":"a/**","users":{"x":["pull","fly"]}}]}'),
    ],
    /^--access \S+p2: repositories\[0\]\.users\["x"\]/,
  );
  await bad(
    ["--htpasswd", users, "--token-key", users],
    /^--token-key \S+users: not a PEM private key$/,
  );
  const small = join(dir, "rsa1024.pem");
  execFileSync("openssl", [
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:1024",
    "-out",
    small,
  ]);
  await bad(["--htpasswd", users, "--token-key", small], /2048 bits/);
  const jwks = (
    text: string,
  ) => ["--token-realm", "http://127.0.0.1:1/token", "--token-jwks", file("jwks.json", text)];
  await bad(jwks("nope"), /^--token-jwks \S+jwks\.json: not JSON/);
  await bad(jwks('{"keys":[]}'), /expected a JWKS/);
  await bad(jwks('{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"}]}'), /symmetric key/);
  const pair = await generateKeyPair("ES256", { extractable: true });
  const priv = await exportJWK(pair.privateKey);
  await bad(jwks(JSON.stringify({ keys: [{ ...priv, kid: "a" }] })), /private key/);
  await bad(jwks(JSON.stringify({ keys: [await exportJWK(pair.publicKey)] })), /no "kid"/);
});

test("built-in token realm: /token as the client reached the server, or --token-realm", async () => {
  const key = file(
    "realm.pem",
    await exportPKCS8((await generateKeyPair("ES256", { extractable: true })).privateKey),
  );
  const challenge = async (args: string[], url: string) => {
    const { auth } = await accessFromOptions(
      parseArgs(["--htpasswd", users, "--token-key", key, ...args]),
    );
    const res = await createRegistry({ auth }).fetch(new Request(url));
    return res.headers.get("WWW-Authenticate");
  };
  assert.equal(
    await challenge([], "https://registry.example:5000/v2/"),
    'Bearer realm="https://registry.example:5000/token",service="fetch-registry"',
  );
  assert.equal(
    await challenge(["--token-realm", "https://public.example/token"], "http://10.0.0.5:5000/v2/"),
    'Bearer realm="https://public.example/token",service="fetch-registry"',
  );
});

test("warnings: open on a reachable address, credentials in clear text", () => {
  for (const host of ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "0:0:0:0:0:0:0:1"]) {
    assert.ok(isLoopback(host), host);
  }
  for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1"]) {
    assert.ok(!isLoopback(host), host);
  }
  assert.deepEqual(exposureWarnings("127.0.0.1", { mode: "open" }), []);
  const [open] = exposureWarnings("0.0.0.0", { mode: "open" });
  assert.match(open, /no access control: the registry is open to anyone who reaches it/);
  const auth = { guard: async () => undefined } as never;
  const [clear] = exposureWarnings("0.0.0.0", { mode: "basic", auth });
  assert.match(clear, /no TLS: credentials and tokens cross the network in clear text/);
  assert.deepEqual(
    exposureWarnings("0.0.0.0", { mode: "basic", auth, tls: { cert: "", key: "" } }),
    [],
  );
});

async function started(args: string[]): Promise<{ cli: ChildRun; url: string }> {
  const cli = spawnCli(["--port", "0", "--storage", "memory", ...args]);
  try {
    const [, url] = await cli.waitFor(/listening on (https?:\/\/[^ ]+) /);
    return { cli, url };
  } catch (error) {
    await cli.kill();
    throw error;
  }
}

test("the CLI process: exit codes, the warning line, Basic with a policy", async () => {
  const usage = spawnCli(["--token-key", "k"]);
  assert.equal(await usage.exited, 2);
  assert.equal(
    usage.stderr(),
    "fetch-registry: --token-key needs --htpasswd (the users of the token service) (see --help)\n",
  );
  const md5 = file(
    "md5only",
    execFileSync("htpasswd", ["-nbm", "carol", "x"], { encoding: "utf8" }),
  );
  const broken = spawnCli(["--port", "0", "--htpasswd", md5]);
  assert.equal(await broken.exited, 1);
  assert.match(
    broken.stderr(),
    /^fetch-registry: --htpasswd \S+md5only: htpasswd line 1 \(user "carol"\): not a bcrypt hash[^\n]*\n$/,
  );

  const open = await started(["--host", "0.0.0.0"]);
  try {
    await open.cli.waitFor(
      /warning: 0\.0\.0\.0 is not a loopback address and there is no access control/,
    );
  } finally {
    assert.equal(await open.cli.stop(), 0);
  }

  const { cli, url } = await started([
    "--host",
    "0.0.0.0",
    "--htpasswd",
    users,
    "--access",
    policy,
  ]);
  try {
    await cli.waitFor(/warning: 0\.0\.0\.0 is not a loopback address and there is no TLS/);
    assert.match(cli.stdout(), /storage memory, access basic\)/);
    const base = url.replace("0.0.0.0", "127.0.0.1");
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { headers });
      await res.arrayBuffer();
      return res;
    };
    const anon = await get("/v2/");
    assert.equal(anon.status, 401);
    assert.equal(
      anon.headers.get("WWW-Authenticate"),
      'Basic realm="fetch-registry", charset="UTF-8"',
    );
    assert.equal((await get("/v2/", basicHeader("alice", "alice-pw"))).status, 200);
    assert.equal((await get("/v2/", basicHeader("alice", "wrong"))).status, 401);
    assert.equal((await get("/v2/public/x/tags/list")).status, 404); // anonymous pull of public/**
    assert.equal((await get("/v2/private/x/tags/list")).status, 401);
    // skopeo and podman send an empty user and password when they have none: anonymous.
    const empty = { Authorization: "Basic Og==" };
    assert.equal((await get("/v2/public/x/tags/list", empty)).status, 404);
    assert.equal((await get("/v2/private/x/tags/list", empty)).status, 401);
    assert.equal((await get("/v2/public/x/tags/list", basicHeader("alice", ""))).status, 401);
    assert.equal((await get("/v2/private/x/tags/list", basicHeader("bob", "bob-pw"))).status, 403);
    assert.equal(
      (await get("/v2/private/x/tags/list", basicHeader("alice", "alice-pw"))).status,
      404,
    );
    assert.doesNotMatch(cli.output(), /alice-pw|bob-pw|Basic /);
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});

test("the CLI process: built-in token service (RSA key, flags) and an external issuer", async () => {
  const rsa = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const key = file("token.pem", await exportPKCS8(rsa.privateKey));
  const t = await started([
    "--htpasswd",
    users,
    "--access",
    policy,
    "--token-key",
    key,
    "--token-service",
    "reg.test",
    "--token-issuer",
    "iss.test",
    "--token-ttl",
    "90",
  ]);
  try {
    assert.match(t.cli.stdout(), /access token\)/);
    const challenge = (await fetch(`${t.url}/v2/`)).headers.get("WWW-Authenticate");
    assert.equal(challenge, `Bearer realm="${t.url}/token",service="reg.test"`);
    const res = await fetch(
      `${t.url}/token?service=reg.test&scope=repository:private/x:pull,push`,
      {
        headers: basicHeader("alice", "alice-pw"),
      },
    );
    assert.equal(res.status, 200);
    const body = await res.json() as { token: string; expires_in: number };
    assert.equal(body.expires_in, 90);
    const [header, claims] = body.token.split(".").slice(0, 2).map((p) =>
      JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")))
    );
    assert.equal(header.alg, "RS256");
    assert.equal(claims.iss, "iss.test");
    assert.equal(claims.aud, "reg.test");
    assert.deepEqual(claims.access, [{
      type: "repository",
      name: "private/x",
      actions: ["pull", "push"],
    }]);
    const tags = await fetch(`${t.url}/v2/private/x/tags/list`, {
      headers: { Authorization: `Bearer ${body.token}` },
    });
    assert.equal(tags.status, 404);
    await tags.arrayBuffer();
  } finally {
    assert.equal(await t.cli.stop(), 0);
  }

  const issuer = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(issuer.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const jwks = file("ext.jwks", JSON.stringify({ keys: [jwk] }));
  const e = await started([
    "--token-realm",
    "https://auth.example/token",
    "--token-jwks",
    jwks,
    "--token-service",
    "reg.test",
    "--token-issuer",
    "auth.example",
  ]);
  try {
    const challenge = (await fetch(`${e.url}/v2/a/b/tags/list`)).headers.get("WWW-Authenticate");
    assert.equal(
      challenge,
      'Bearer realm="https://auth.example/token",service="reg.test",scope="repository:a/b:pull"',
    );
    const sign = (aud: string) =>
      new SignJWT({ access: [{ type: "repository", name: "a/b", actions: ["pull"] }] })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer("auth.example")
        .setAudience(aud)
        .setSubject("carol")
        .setIssuedAt()
        .setExpirationTime("1m")
        .sign(issuer.privateKey);
    const ok = await fetch(`${e.url}/v2/a/b/tags/list`, {
      headers: { Authorization: `Bearer ${await sign("reg.test")}` },
    });
    assert.equal(ok.status, 404);
    await ok.arrayBuffer();
    const other = await fetch(`${e.url}/v2/a/b/tags/list`, {
      headers: { Authorization: `Bearer ${await sign("elsewhere")}` },
    });
    assert.equal(other.status, 401);
    assert.match(other.headers.get("WWW-Authenticate") ?? "", /error="invalid_token"/);
    await other.arrayBuffer();
    assert.equal((await fetch(`${e.url}/token`)).status, 404);
  } finally {
    assert.equal(await e.cli.stop(), 0);
  }
});

test.run();
