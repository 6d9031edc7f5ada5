/**
 * Real clients against the CLI server with access control (spawned on the runtime running this
 * file): `skopeo login`, `podman login` and `buildah login` / `buildah push|pull --creds` against
 * Basic (an htpasswd file made by `htpasswd -B`), the built-in token service (over TLS: a
 * self-signed certificate made by openssl, trusted with `--cert-dir`) and an external token server
 * made here (node:http on 127.0.0.1, signing ES256 tokens with a key made here, its JWKS written to
 * the file `--token-jwks` reads). Under one policy: a push and a pull of an image, and the
 * refusals: a user without push gets an error and nothing is stored, an anonymous pull of a
 * private repository is refused, a wrong password fails login.
 *
 * A client binary that is missing skips what needs it, saying so (.ci/run installs them all).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { suite } from "uvu";
import process from "node:process";
import { detectRuntime } from "../lib/server/serve.ts";
import { type ChildRun, spawnCli } from "./support/cli_process.ts";
import { digestOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, utf8 } from "./support/oci.ts";
import { makeCert } from "./support/tls.ts";

const RUNTIME = detectRuntime();
const test = suite(`auth clients (${RUNTIME})`);

const has = (bin: string) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
const MISSING = ["skopeo", "podman", "buildah", "htpasswd", "openssl"].filter((b) => !has(b));

const PASSWORDS: Record<string, string> = { alice: "alice-pw", bob: "bob-pw", root: "root-pw" };
const POLICY = {
  admins: ["root"],
  repositories: [
    { match: "public/**", anonymous: ["pull"], users: { "*": ["pull"] } },
    { match: "team/**", users: { alice: ["pull", "push", "delete"], bob: ["pull"] } },
  ],
};

/** The policy above, for the external token server (which keeps its own permissions). */
function allowed(user: string | undefined, repository: string): string[] {
  if (user === "root") return ["pull", "push", "delete"];
  if (repository.startsWith("public/")) return ["pull"];
  if (repository.startsWith("team/")) {
    return user === "alice" ? ["pull", "push", "delete"] : user === "bob" ? ["pull"] : [];
  }
  return [];
}

let work = "";
let src = "";
let manifestDigest = "";

/** A one-layer OCI image layout at `dir`, tag `app`. */
function writeImage(dir: string): string {
  // A real tar (buildah unpacks it): one file, made by tar with fixed owner and time.
  const files = join(work, "layer-files");
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, "hello.txt"), "fetch-registry auth clients layer\n".repeat(100));
  const tar = spawnSync("tar", [
    "-c",
    "-C",
    files,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mtime=@0",
    "hello.txt",
  ]);
  assert.equal(tar.status, 0, String(tar.stderr));
  const tarBytes = new Uint8Array(tar.stdout);
  const layer = new Uint8Array(gzipSync(tarBytes));
  const config = utf8(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [digestOf(tarBytes)] },
  }));
  const manifest = utf8(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: digestOf(config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: digestOf(layer), size: layer.length }],
  }));
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  for (const blob of [layer, config, manifest]) {
    writeFileSync(join(dir, "blobs", "sha256", digestOf(blob).slice(7)), blob);
  }
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{
        mediaType: OCI_MANIFEST,
        digest: digestOf(manifest),
        size: manifest.length,
        annotations: { "org.opencontainers.image.ref.name": "app" },
      }],
    }),
  );
  return digestOf(manifest);
}

/** The manifest digest `index.json` of a layout names. */
function layoutDigest(dir: string): string {
  return JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests[0].digest;
}

interface Ran {
  code: number | null;
  out: string;
}

/** Run a client (asynchronously: the external token server lives in this process). */
function run(command: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let out = "";
    child.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
    child.stderr!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

async function ok(command: string, args: string[]): Promise<string> {
  const r = await run(command, args);
  assert.equal(r.code, 0, `${command} ${args.join(" ")} failed: ${r.out}`);
  return r.out;
}

async function refused(command: string, args: string[], why: RegExp): Promise<void> {
  const r = await run(command, args);
  assert.notEqual(r.code, 0, `${command} ${args.join(" ")} should fail: ${r.out}`);
  assert.match(r.out, why, `${command} ${args.join(" ")}`);
}

/** The external token server: Docker's token endpoint over node:http, ES256 with a key made here. */
async function externalIssuer(): Promise<{ server: Server; realm: string; jwksFile: string }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-issuer-1", alg: "ES256", use: "sig" };
  const jwksFile = join(work, "issuer.jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const server = createServer((req, res) => {
    (async () => {
      const url = new URL(req.url ?? "/", "http://issuer");
      let user: string | undefined;
      const header = req.headers.authorization;
      if (header) {
        const [name, ...rest] = Buffer.from(header.replace(/^Basic /i, ""), "base64").toString()
          .split(":");
        if (PASSWORDS[name] === undefined || PASSWORDS[name] !== rest.join(":")) {
          res.writeHead(401, { "content-type": "application/json" });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
          return;
        }
        user = name;
      }
      const access = [];
      for (const scope of url.searchParams.getAll("scope").flatMap((s) => s.split(" "))) {
        const [type, name, actions] = scope.split(":");
        if (type !== "repository") continue;
        const may = allowed(user, name);
        const granted = actions.split(",").filter((a) => may.includes(a));
        if (granted.length) access.push({ type, name, actions: granted });
      }
      const token = await new SignJWT({ access })
        .setProtectedHeader({ alg: "ES256", kid: jwk.kid })
        .setIssuer("issuer.test")
        .setAudience(url.searchParams.get("service") ?? "")
        .setSubject(user ?? "")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    })().catch((error) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { server, realm: `http://127.0.0.1:${port}/token`, jwksFile };
}

interface Mode {
  name: string;
  args: () => Promise<string[]>;
  tls: boolean;
}

let htpasswdFile = "";
let policyFile = "";
let certDir = "";
let issuer: { server: Server; realm: string; jwksFile: string } | undefined;

const MODES: Mode[] = [
  {
    name: "Basic (htpasswd -B)",
    tls: false,
    args: async () => ["--htpasswd", htpasswdFile, "--access", policyFile],
  },
  {
    name: "built-in token service over TLS",
    tls: true,
    args: async () => {
      const key = join(work, "token.pem");
      await ok("openssl", [
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key,
      ]);
      const cert = makeCert(certDir);
      // skopeo/podman take CA certificates from *.crt files of --cert-dir.
      writeFileSync(join(certDir, "ca.crt"), cert.cert);
      return [
        "--htpasswd",
        htpasswdFile,
        "--access",
        policyFile,
        "--token-key",
        key,
        "--tls-cert",
        cert.certFile,
        "--tls-key",
        cert.keyFile,
      ];
    },
  },
  {
    name: "external token server (JWKS)",
    tls: false,
    args: async () => {
      issuer = await externalIssuer();
      return [
        "--token-realm",
        issuer.realm,
        "--token-jwks",
        issuer.jwksFile,
        "--token-issuer",
        "issuer.test",
        "--token-service",
        "registry.test",
      ];
    },
  },
];

test.before(() => {
  work = mkdtempSync(join(tmpdir(), "fetch-registry-auth-clients-"));
  if (MISSING.length) return;
  src = join(work, "src");
  manifestDigest = writeImage(src);
  htpasswdFile = join(work, "htpasswd");
  writeFileSync(htpasswdFile, "");
  for (const [user, password] of Object.entries(PASSWORDS)) {
    // -C 5 keeps the test quick; the registry accepts any cost.
    const line = spawnSync("htpasswd", ["-nbB", "-C", "5", user, password], { encoding: "utf8" });
    writeFileSync(htpasswdFile, line.stdout.trim() + "\n", { flag: "a" });
  }
  policyFile = join(work, "access.json");
  writeFileSync(policyFile, JSON.stringify(POLICY));
  certDir = join(work, "certs");
  mkdirSync(certDir);
});

test.after(() => {
  issuer?.server.close();
  rmSync(work, { recursive: true, force: true });
});

for (const mode of MODES) {
  const body = async () => {
    const cli: ChildRun = spawnCli(["--port", "0", "--storage", "memory", ...(await mode.args())]);
    let host: string;
    try {
      [, host] = await cli.waitFor(/listening on https?:\/\/(127\.0\.0\.1:\d+) /);
    } catch (error) {
      await cli.kill();
      throw error;
    }
    const tls = (side: "" | "src" | "dest") => {
      const flag = side === "" ? "" : `${side}-`;
      return mode.tls ? [`--${flag}cert-dir`, certDir] : [`--${flag}tls-verify=false`];
    };
    const authfile = (who: string) => join(work, `${mode.name.replace(/\W+/g, "-")}-${who}.json`);
    const ref = (name: string) => `docker://${host}/${name}`;
    try {
      // Logins: skopeo, podman and buildah, each with its own authfile.
      assert.match(
        await ok("skopeo", [
          "login",
          ...tls(""),
          "--authfile",
          authfile("alice"),
          "-u",
          "alice",
          "-p",
          "alice-pw",
          host,
        ]),
        /Login Succeeded/,
      );
      assert.match(
        await ok("podman", [
          "login",
          ...tls(""),
          "--authfile",
          authfile("bob"),
          "-u",
          "bob",
          "-p",
          "bob-pw",
          host,
        ]),
        /Login Succeeded/,
      );
      await refused(
        "skopeo",
        [
          "login",
          ...tls(""),
          "--authfile",
          authfile("mallory"),
          "-u",
          "alice",
          "-p",
          "wrong",
          host,
        ],
        /invalid username\/password|unauthorized|401/i,
      );
      await refused(
        "podman",
        ["login", ...tls(""), "--authfile", authfile("mallory2"), "-u", "nobody", "-p", "x", host],
        /invalid username\/password|unauthorized|401/i,
      );

      // alice pushes (with the authfile of her login); bob pulls with his.
      await ok("skopeo", [
        "copy",
        "--preserve-digests",
        ...tls("dest"),
        "--authfile",
        authfile("alice"),
        `oci:${src}:app`,
        ref("team/app:v1"),
      ]);
      const out = join(work, `${mode.name.replace(/\W+/g, "-")}-out`);
      await ok("skopeo", [
        "copy",
        ...tls("src"),
        "--authfile",
        authfile("bob"),
        ref("team/app:v1"),
        `oci:${out}:app`,
      ]);
      assert.equal(layoutDigest(out), manifestDigest);
      const raw = await ok("skopeo", [
        "inspect",
        "--raw",
        ...tls(""),
        "--creds",
        "bob:bob-pw",
        ref("team/app:v1"),
      ]);
      assert.equal(digestOf(utf8(raw)), manifestDigest);

      // bob may not push: skopeo fails and nothing is stored.
      await refused(
        "skopeo",
        [
          "copy",
          ...tls("dest"),
          "--dest-creds",
          "bob:bob-pw",
          `oci:${src}:app`,
          ref("team/other:v1"),
        ],
        /denied|unauthorized|insufficient|authentication required/i,
      );
      await refused(
        "skopeo",
        ["list-tags", ...tls(""), "--creds", "alice:alice-pw", ref("team/other")],
        /name unknown|NAME_UNKNOWN|not found/i,
      );
      // Anonymous pull of a private repository: refused.
      await refused(
        "skopeo",
        ["copy", ...tls("src"), "--src-no-creds", ref("team/app:v1"), `oci:${out}-anon:app`],
        /unauthorized|authentication required|denied|insufficient/i,
      );
      // The admin pushes a public image; anyone pulls it without credentials.
      await ok("skopeo", [
        "copy",
        ...tls("dest"),
        "--dest-creds",
        "root:root-pw",
        `oci:${src}:app`,
        ref("public/app:v1"),
      ]);
      await ok("skopeo", [
        "copy",
        ...tls("src"),
        "--src-no-creds",
        ref("public/app:v1"),
        `oci:${out}-public:app`,
      ]);
      assert.equal(layoutDigest(`${out}-public`), manifestDigest);

      // buildah: login, then push and pull with --creds (vfs storage under the temporary dir).
      const storage = join(work, `${mode.name.replace(/\W+/g, "-")}-buildah`);
      const buildah = (args: string[]) =>
        ok("buildah", [
          "--storage-driver",
          "vfs",
          "--root",
          join(storage, "root"),
          "--runroot",
          join(storage, "run"),
          ...args,
        ]);
      const buildahTls = mode.tls ? ["--cert-dir", certDir] : ["--tls-verify=false"];
      assert.match(
        await buildah([
          "login",
          ...buildahTls,
          "--authfile",
          authfile("buildah"),
          "-u",
          "alice",
          "-p",
          "alice-pw",
          host,
        ]),
        /Login Succeeded/,
      );
      await buildah(["pull", ...buildahTls, "--creds", "bob:bob-pw", ref("team/app:v1")]);
      await buildah([
        "push",
        ...buildahTls,
        "--creds",
        "alice:alice-pw",
        `${host}/team/app:v1`,
        ref("team/app:v2"),
      ]);
      const refusal = await run("buildah", [
        "--storage-driver",
        "vfs",
        "--root",
        join(storage, "root"),
        "--runroot",
        join(storage, "run"),
        "push",
        ...buildahTls,
        "--creds",
        "bob:bob-pw",
        `${host}/team/app:v1`,
        ref("team/bob-was-here:v1"),
      ]);
      assert.notEqual(refusal.code, 0, refusal.out);
      const tags = await ok("skopeo", [
        "list-tags",
        ...tls(""),
        "--creds",
        "alice:alice-pw",
        ref("team/app"),
      ]);
      assert.deepEqual(JSON.parse(tags).Tags.sort(), ["v1", "v2"]);
      assert.doesNotMatch(cli.output(), /alice-pw|bob-pw|root-pw/);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  };
  if (MISSING.length) {
    test.skip(`${mode.name}: skipped, missing ${MISSING.join(", ")}`, body);
  } else test(`${mode.name}: logins, push and pull under a policy, refusals`, body);
}

if (MISSING.length) {
  console.log(
    `auth_clients.test.ts: skipping, not installed: ${MISSING.join(", ")} (apt-get install them)`,
  );
}

test.run();
