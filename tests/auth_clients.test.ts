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
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { detectRuntime } from "../lib/server/serve.ts";
import { type ChildRun, spawnCli } from "./support/cli_process.ts";
import {
  type ExternalIssuer,
  externalIssuer,
  layoutDigest,
  ok,
  refused,
  run,
  writeImage,
} from "./support/clients.ts";
import { digestOf, utf8 } from "./support/oci.ts";
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

interface Mode {
  name: string;
  args: () => Promise<string[]>;
  tls: boolean;
}

let htpasswdFile = "";
let policyFile = "";
let certDir = "";
let issuer: ExternalIssuer | undefined;

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
      issuer = await externalIssuer(work, PASSWORDS, allowed);
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
  manifestDigest = writeImage(src, work);
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
