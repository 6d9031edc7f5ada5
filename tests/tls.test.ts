/**
 * TLS: `startRegistry({ tls })` on every server of the runtime running this file (Node: the
 * node:http bridge on node:https; Deno: Deno.serve and the bridge; Bun: Bun.serve and the
 * bridge), with a self-signed certificate made by openssl at test time and a fetch that trusts it:
 * https URL, a blob and a manifest pushed and read back, Basic credentials over TLS, the built-in
 * token service's realm on https, and plain HTTP refused on the TLS port. Then the CLI with
 * `--tls-cert`/`--tls-key`: the https URL in its startup line, and its file errors.
 *
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { basicAuth } from "../lib/auth/basic_mode.ts";
import { tokenAuth } from "../lib/auth/token_mode.ts";
import { detectRuntime, type ServerKind } from "../lib/server/serve.ts";
import { startRegistry } from "../lib/server/start.ts";
import { basicHeader } from "./support/auth.ts";
import { spawnCli } from "./support/cli_process.ts";
import { client, expectStatus, pushBlob, pushManifest } from "./support/http.ts";
import { configBlob, describe, OCI_CONFIG, OCI_LAYER, ociManifest, utf8 } from "./support/oci.ts";
import { makeCert, remote, type TestCert, trustingFetch } from "./support/tls.ts";

const RUNTIME = detectRuntime();
const KINDS: { kind: ServerKind; label: string }[] = RUNTIME === "node"
  ? [{ kind: "auto", label: "node:https" }]
  : RUNTIME === "deno"
  ? [{ kind: "native", label: "Deno.serve" }, { kind: "node", label: "node:https bridge" }]
  : [{ kind: "auto", label: "Bun.serve" }, { kind: "node", label: "node:https bridge" }];

let dir = "";
let cert: TestCert;

const test = suite(`tls (${RUNTIME})`);

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "fetch-registry-tls-"));
  cert = makeCert(dir);
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

for (const { kind, label } of KINDS) {
  test(`${label}: https URL, push and pull over TLS`, async () => {
    const registry = await startRegistry({ port: 0, server: kind, tls: cert });
    try {
      assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const c = client(remote(registry.url, trustingFetch(cert.cert)));
      expectStatus(await c.call("GET", "/v2/"), 200);
      const layer = utf8(`layer over tls ${label}`);
      const config = configBlob("tls");
      await pushBlob(c, "tls/app", layer);
      await pushBlob(c, "tls/app", config);
      const manifest = ociManifest({
        config: describe(OCI_CONFIG, config),
        layers: [describe(OCI_LAYER, layer)],
      });
      await pushManifest(c, "tls/app", manifest, "v1");
      const got = await c.call("GET", "/v2/tls/app/manifests/v1", {
        headers: { Accept: manifest.mediaType },
      });
      expectStatus(got, 200);
      assert.deepEqual(got.body, manifest.bytes);
      const blob = await c.call("GET", `/v2/tls/app/blobs/${describe(OCI_LAYER, layer).digest}`);
      expectStatus(blob, 200);
      assert.deepEqual(blob.body, layer);
      // A client that does not trust the certificate is refused by its own TLS check.
      await assert.rejects(fetch(`${registry.url}/v2/`));
      // Plain HTTP on the TLS port gets no registry answer.
      const plain = await fetch(`${registry.url.replace("https:", "http:")}/v2/`).then(
        (r) => r.status,
        () => "refused",
      );
      assert.notEqual(plain, 200);
    } finally {
      await registry.close();
    }
  });

  test(`${label}: Basic credentials and the token realm over TLS`, async () => {
    const users = { alice: "alice-pw" };
    const basic = await startRegistry({
      port: 0,
      server: kind,
      tls: cert,
      auth: basicAuth({ users }),
    });
    const token = await startRegistry({
      port: 0,
      server: kind,
      tls: cert,
      auth: tokenAuth({ users }),
    });
    try {
      const b = client(remote(basic.url, trustingFetch(cert.cert)));
      expectStatus(await b.call("GET", "/v2/"), 401);
      expectStatus(await b.call("GET", "/v2/", { headers: basicHeader("alice", "alice-pw") }), 200);
      expectStatus(await b.call("GET", "/v2/", { headers: basicHeader("alice", "nope") }), 401);
      const t = client(remote(token.url, trustingFetch(cert.cert)));
      const challenge = (await t.call("GET", "/v2/")).headers.get("WWW-Authenticate") ?? "";
      // The realm is /token on the origin the client used: https, as it reached the server.
      assert.match(challenge, new RegExp(`^Bearer realm="${token.url}/token"`));
      const got = await t.call("GET", "/token?service=fetch-registry&scope=repository:a/b:pull", {
        headers: basicHeader("alice", "alice-pw"),
      });
      expectStatus(got, 200);
      const jwt = (got.json() as { token: string }).token;
      expectStatus(
        await t.call("GET", "/v2/a/b/tags/list", { headers: { Authorization: `Bearer ${jwt}` } }),
        404,
      );
    } finally {
      await basic.close();
      await token.close();
    }
  });
}

test("CLI: --tls-cert/--tls-key serve https; unreadable or wrong files stop the start", async () => {
  const cli = spawnCli([
    "--port",
    "0",
    "--storage",
    "memory",
    "--tls-cert",
    cert.certFile,
    "--tls-key",
    cert.keyFile,
  ]);
  try {
    const [, url] = await cli.waitFor(/listening on (https:\/\/127\.0\.0\.1:\d+) /);
    const res = await trustingFetch(cert.cert)(`${url}/v2/`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  } finally {
    assert.equal(await cli.stop(), 0);
  }
  const notPem = join(dir, "not.pem");
  writeFileSync(notPem, "hello\n");
  const bad = spawnCli(["--port", "0", "--tls-cert", notPem, "--tls-key", cert.keyFile]);
  assert.equal(await bad.exited, 1);
  assert.equal(
    bad.stderr(),
    `fetch-registry: --tls-cert ${notPem}: not a PEM certificate\n`,
  );
  const missing = spawnCli([
    "--port",
    "0",
    "--tls-cert",
    cert.certFile,
    "--tls-key",
    join(dir, "nope"),
  ]);
  assert.equal(await missing.exited, 1);
  assert.match(
    missing.stderr(),
    /^fetch-registry: --tls-key \S+nope: cannot read it: no such file\n$/,
  );
});

test.run();
