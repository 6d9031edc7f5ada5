/**
 * Helpers of tests/auth_clients.test.ts: an OCI layout to copy, running client binaries
 * asynchronously (the external token server lives in the test process, so a synchronous spawn
 * would block it), and the external token server.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { digestOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, utf8 } from "./oci.ts";

/**
 * Write a one-layer OCI image layout (a real tar layer, made by tar) at `dir`, tag `app`, and
 * answer its manifest digest. `scratch` is a directory for the layer's files.
 *
 * @example
 * ```ts
 * const digest = writeImage(join(tmp, "src"), tmp);
 * ```
 */
export function writeImage(dir: string, scratch: string): string {
  // A real tar (buildah unpacks it): one file, made by tar with fixed owner and time.
  const files = join(scratch, "layer-files");
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
export function layoutDigest(dir: string): string {
  return JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests[0].digest;
}

/** A finished client run. */
export interface Ran {
  code: number | null;
  out: string;
}

/** Run a client (asynchronously: the external token server lives in this process). */
export function run(command: string, args: string[]): Promise<Ran> {
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

/** Run a client; it must succeed. Answers its output. */
export async function ok(command: string, args: string[]): Promise<string> {
  const r = await run(command, args);
  assert.equal(r.code, 0, `${command} ${args.join(" ")} failed: ${r.out}`);
  return r.out;
}

/** Run a client; it must fail, saying `why`. */
export async function refused(command: string, args: string[], why: RegExp): Promise<void> {
  const r = await run(command, args);
  assert.notEqual(r.code, 0, `${command} ${args.join(" ")} should fail: ${r.out}`);
  assert.match(r.out, why, `${command} ${args.join(" ")}`);
}

/** A running external token server. */
export interface ExternalIssuer {
  /** The node:http server (close it). */
  server: Server;
  /** Its token endpoint. */
  realm: string;
  /** The file with its JWKS (for `--token-jwks`). */
  jwksFile: string;
}

/**
 * An external token server: Docker's token endpoint over node:http on 127.0.0.1, checking Basic
 * credentials against `passwords`, granting what `allowed` says intersected with what was asked,
 * signing ES256 (iss `issuer.test`, aud the asked service) with a key made here; its JWKS is
 * written to `dir`.
 *
 * @example
 * ```ts
 * const issuer = await externalIssuer(tmp, { alice: "pw" }, () => ["pull"]);
 * ```
 */
export async function externalIssuer(
  dir: string,
  passwords: Record<string, string>,
  allowed: (user: string | undefined, repository: string) => string[],
): Promise<ExternalIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-issuer-1", alg: "ES256", use: "sig" };
  const jwksFile = join(dir, "issuer.jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const server = createServer((req, res) => {
    (async () => {
      const url = new URL(req.url ?? "/", "http://issuer");
      let user: string | undefined;
      const header = req.headers.authorization;
      if (header) {
        const [name, ...rest] = Buffer.from(header.replace(/^Basic /i, ""), "base64").toString()
          .split(":");
        if (passwords[name] === undefined || passwords[name] !== rest.join(":")) {
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
