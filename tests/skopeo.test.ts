/**
 * skopeo, a real client, against the CLI server (spawned on the runtime running this file, with
 * fs storage in a temporary directory): OCI image layouts built here, offline (an image with
 * several gzip layers, one of 32 MiB of incompressible seeded bytes, and a two-platform index),
 * copied in, inspected (parsed and `--raw`), tags listed, copied registry to registry (mounts),
 * copied out again and compared with the input byte for byte, then a tag deleted and seen gone.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Buffer } from "node:buffer";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { REQUEST_LOG_PATTERN } from "../lib/server/log.ts";
import { detectRuntime } from "../lib/server/serve.ts";
import { type CliServer, startCliServer } from "./support/cli_process.ts";
import { digestOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, utf8 } from "./support/oci.ts";

const RUNTIME = detectRuntime();
const MiB = 1024 * 1024;

const REF_NAME = "org.opencontainers.image.ref.name";

// ---------------------------------------------------------------------------------------------
// Content

/**
 * `size` incompressible bytes determined by `seed` (AES-256-CTR keystream): the same bytes on
 * every run and runtime, fast to make.
 */
function seededBytes(size: number, seed: string): Uint8Array {
  const key = createHash("sha256").update(`fetch-registry skopeo test ${seed}`).digest();
  const cipher = createCipheriv("aes-256-ctr", key, new Uint8Array(16));
  const out = new Uint8Array(size);
  const block = new Uint8Array(Math.min(size, 4 * MiB));
  for (let at = 0; at < size; at += block.length) {
    const n = Math.min(block.length, size - at);
    out.set(new Uint8Array(cipher.update(block.subarray(0, n))), at);
  }
  return out;
}

/** A descriptor. */
interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

/** A layer: its gzip blob, and the digest of the uncompressed content (the diff id). */
interface Layer {
  blob: Uint8Array;
  descriptor: Descriptor;
  diffId: string;
}

/** A gzip layer (stored, level 0: the content is incompressible anyway) of `content`. */
function layer(content: Uint8Array): Layer {
  const blob = new Uint8Array(gzipSync(content, { level: 0 }));
  return {
    blob,
    descriptor: { mediaType: OCI_LAYER, digest: digestOf(blob), size: blob.length },
    diffId: digestOf(content),
  };
}

/** A built image: its config, layers and manifest. */
interface Image {
  config: Uint8Array;
  layers: Layer[];
  manifest: Uint8Array;
  descriptor: Descriptor;
}

function image(architecture: string, layers: Layer[], label: string): Image {
  const config = utf8(JSON.stringify(
    {
      created: "2026-01-02T03:04:05Z",
      architecture,
      os: "linux",
      config: { Env: ["PATH=/usr/bin", `IMAGE=${label}`], Labels: { "test.label": label } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created_by: `layer ${i} of ${label}` })),
    },
    null,
    2,
  ));
  const manifest = utf8(JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: digestOf(config), size: config.length },
      layers: layers.map((l) => l.descriptor),
      annotations: { "test.image": label },
    },
    null,
    3, // unusual indentation: a client that re-serialises would change the digest
  ));
  return {
    config,
    layers,
    manifest,
    descriptor: { mediaType: OCI_MANIFEST, digest: digestOf(manifest), size: manifest.length },
  };
}

/** A built index of platform images. */
interface Index {
  bytes: Uint8Array;
  descriptor: Descriptor;
  images: Image[];
}

function index(images: Image[]): Index {
  const bytes = utf8(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((img) => ({
      ...img.descriptor,
      platform: {
        architecture: JSON.parse(new TextDecoder().decode(img.config)).architecture,
        os: "linux",
      },
    })),
    annotations: { "test.index": "two platforms" },
  }));
  return {
    bytes,
    descriptor: { mediaType: OCI_INDEX, digest: digestOf(bytes), size: bytes.length },
    images,
  };
}

/** Write an OCI image layout at `dir`: blobs, `oci-layout`, and `index.json` naming `refs`. */
function writeLayout(dir: string, blobs: Uint8Array[], refs: Record<string, Descriptor>): void {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  for (const blob of blobs) {
    writeFileSync(join(dir, "blobs", "sha256", digestOf(blob).slice(7)), blob);
  }
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Object.entries(refs).map(([ref, d]) => ({
        ...d,
        annotations: { [REF_NAME]: ref },
      })),
    }),
  );
}

function imageBlobs(img: Image): Uint8Array[] {
  return [img.config, img.manifest, ...img.layers.map((l) => l.blob)];
}

/** The descriptor `index.json` of layout `dir` names `ref`. */
function layoutRef(dir: string, ref: string): Descriptor {
  const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: Descriptor[];
  };
  const found = idx.manifests.filter((m) => m.annotations?.[REF_NAME] === ref);
  assert.equal(found.length, 1, `${dir}/index.json names ${ref} once: ${JSON.stringify(idx)}`);
  return found[0];
}

/** Assert that layout `dir` holds `blob` under its digest, byte for byte. */
function assertLayoutBlob(dir: string, blob: Uint8Array, what: string): void {
  const digest = digestOf(blob);
  const path = join(dir, "blobs", "sha256", digest.slice(7));
  assert.ok(existsSync(path), `${what} ${digest} is in the copied-out layout`);
  const got = new Uint8Array(readFileSync(path));
  assert.equal(got.length, blob.length, `${what} ${digest}: same size`);
  assert.equal(digestOf(got), digest, `${what}: same digest`);
  assert.ok(Buffer.from(got).equals(Buffer.from(blob)), `${what}: same bytes`);
}

// ---------------------------------------------------------------------------------------------
// The server and skopeo

/** What a skopeo run gave. */
interface Run {
  status: number | null;
  stdout: Uint8Array;
  stderr: string;
}

let work = "";

/** Run skopeo (async: the server is another process, but keep this one's event loop free). */
function skopeoRun(args: string[]): Promise<Run> {
  const child = spawn("skopeo", ["--insecure-policy", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    // skopeo keeps temporary blob copies under TMPDIR; keep them in the test's directory.
    env: { ...process.env, TMPDIR: work, REGISTRY_AUTH_FILE: join(work, "auth.json") },
  });
  const out: Uint8Array[] = [];
  let err = "";
  child.stdout!.on("data", (d: Uint8Array) => out.push(new Uint8Array(d)));
  child.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ status: code, stdout: new Uint8Array(Buffer.concat(out)), stderr: err });
    });
  });
}

/** Run skopeo and assert it succeeded; answers its stdout. */
async function skopeo(args: string[]): Promise<Uint8Array> {
  const r = await skopeoRun(args);
  assert.equal(
    r.status,
    0,
    `skopeo ${args.join(" ")} failed (${r.status}): ${r.stderr}\nserver log tail:\n${
      server?.output().slice(-2000)
    }`,
  );
  return r.stdout;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** GET (or HEAD) from the server, whole body. */
async function get(path: string, method = "GET", accept = `${OCI_MANIFEST}, ${OCI_INDEX}`) {
  const res = await fetch(server.url + path, { method, headers: { Accept: accept } });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

/** Assert the registry serves `bytes` as blob `repo`@digest. */
async function assertRegistryBlob(repo: string, bytes: Uint8Array, what: string) {
  const digest = digestOf(bytes);
  const res = await get(`/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `${what} ${digest} in ${repo}`);
  assert.equal(res.body.length, bytes.length, `${what}: size`);
  assert.ok(Buffer.from(res.body).equals(Buffer.from(bytes)), `${what}: same bytes`);
}

/** Assert the registry serves exactly `bytes` as manifest `repo`:`reference`. */
async function assertRegistryManifest(
  repo: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
) {
  const res = await get(`/v2/${repo}/manifests/${reference}`);
  assert.equal(res.status, 200, `manifest ${repo}:${reference}: ${text(res.body)}`);
  assert.equal(res.headers.get("Docker-Content-Digest"), digestOf(bytes), `${repo}:${reference}`);
  assert.equal(res.headers.get("Content-Type"), mediaType, `${repo}:${reference} Content-Type`);
  assert.ok(
    Buffer.from(res.body).equals(Buffer.from(bytes)),
    `${repo}:${reference}: the exact bytes pushed`,
  );
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const base = layer(seededBytes(200_000, "base"));
const big = layer(seededBytes(32 * MiB + 12_345, "big")); // ≥ 32 MiB, incompressible
const middle = layer(seededBytes(3 * MiB + 7, "middle"));
const tiny = layer(utf8("tiny layer\n"));
const app = image("amd64", [base, big, middle, tiny], "app");

const amd64 = image("amd64", [base, layer(seededBytes(1 * MiB + 1, "amd64"))], "multi-amd64");
const arm64 = image("arm64", [base, layer(seededBytes(2 * MiB + 3, "arm64"))], "multi-arm64");
const multi = index([amd64, arm64]);

let server: CliServer;
let src = "";

const test = suite(`skopeo (${RUNTIME})`);

test.before(async () => {
  try {
    const found = spawnSync("sh", ["-c", "command -v skopeo"]);
    assert.equal(found.status, 0, "skopeo is installed (apt-get install skopeo)");
    work = mkdtempSync(join(tmpdir(), "fetch-registry-skopeo-"));
    writeFileSync(join(work, "auth.json"), "{}");
    src = join(work, "src");
    writeLayout(
      src,
      [...imageBlobs(app), ...imageBlobs(amd64), ...imageBlobs(arm64), multi.bytes],
      { app: app.descriptor, multi: multi.descriptor },
    );
    server = await startCliServer(`fs:${join(work, "data")}`);
  } catch (error) {
    // uvu reports a failing hook only as tests not passed: say why.
    console.error("skopeo.test.ts: setup failed:", error);
    throw error;
  }
});

test.after(async () => {
  await server?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("copy an image with several layers (one of 32 MiB) in: the registry holds the exact bytes", async () => {
  await skopeo([
    "copy",
    "--preserve-digests",
    "--dest-tls-verify=false",
    `oci:${src}:app`,
    `docker://${server.host}/demo/app:v1`,
  ]);
  await assertRegistryManifest("demo/app", "v1", app.manifest, OCI_MANIFEST);
  await assertRegistryManifest("demo/app", app.descriptor.digest, app.manifest, OCI_MANIFEST);
  await assertRegistryBlob("demo/app", app.config, "config");
  for (const [i, l] of app.layers.entries()) {
    await assertRegistryBlob("demo/app", l.blob, `layer ${i}`);
  }
  // A second push of the same image (another tag) is a no-op for the blobs and succeeds; without
  // --preserve-digests too (skopeo has nothing to convert, so the bytes stay the same).
  await skopeo([
    "copy",
    "--dest-tls-verify=false",
    `oci:${src}:app`,
    `docker://${server.host}/demo/app:v2`,
  ]);
  await assertRegistryManifest("demo/app", "v2", app.manifest, OCI_MANIFEST);
});

test("copy a two-platform index in with --all: index and both images, exact bytes", async () => {
  await skopeo([
    "copy",
    "--all",
    "--preserve-digests",
    "--dest-tls-verify=false",
    `oci:${src}:multi`,
    `docker://${server.host}/demo/multi:v1`,
  ]);
  await assertRegistryManifest("demo/multi", "v1", multi.bytes, OCI_INDEX);
  for (const img of multi.images) {
    await assertRegistryManifest("demo/multi", img.descriptor.digest, img.manifest, OCI_MANIFEST);
    await assertRegistryBlob("demo/multi", img.config, "config");
    for (const [i, l] of img.layers.entries()) {
      await assertRegistryBlob("demo/multi", l.blob, `layer ${i}`);
    }
  }
});

test("inspect: parsed (digest, layers, platform, labels) and --raw (the exact manifest bytes)", async () => {
  const info = JSON.parse(text(
    await skopeo([
      "inspect",
      "--tls-verify=false",
      `docker://${server.host}/demo/app:v1`,
    ]),
  ));
  assert.equal(info.Digest, app.descriptor.digest);
  assert.deepEqual(info.Layers, app.layers.map((l) => l.descriptor.digest));
  assert.equal(info.Architecture, "amd64");
  assert.equal(info.Os, "linux");
  assert.deepEqual(info.Labels, { "test.label": "app" });
  assert.deepEqual([...info.RepoTags].sort(), ["v1", "v2"]);
  assert.equal(info.Created, "2026-01-02T03:04:05Z");

  const raw = await skopeo([
    "inspect",
    "--raw",
    "--tls-verify=false",
    `docker://${server.host}/demo/app:v1`,
  ]);
  assert.equal(digestOf(raw), app.descriptor.digest, "--raw gives the manifest bytes pushed");
  const config = await skopeo([
    "inspect",
    "--config",
    "--raw",
    "--tls-verify=false",
    `docker://${server.host}/demo/app@${app.descriptor.digest}`,
  ]);
  assert.equal(digestOf(config), digestOf(app.config), "--config --raw gives the config bytes");

  const rawIndex = await skopeo([
    "inspect",
    "--raw",
    "--tls-verify=false",
    `docker://${server.host}/demo/multi:v1`,
  ]);
  assert.equal(digestOf(rawIndex), multi.descriptor.digest, "--raw of the index: its bytes");
  for (const img of multi.images) {
    const arch = JSON.parse(text(img.config)).architecture as string;
    const platform = JSON.parse(text(
      await skopeo([
        "--override-os",
        "linux",
        "--override-arch",
        arch,
        "inspect",
        "--tls-verify=false",
        `docker://${server.host}/demo/multi:v1`,
      ]),
    ));
    assert.equal(platform.Architecture, arch);
    assert.deepEqual(platform.Layers, img.layers.map((l) => l.descriptor.digest), arch);
    assert.deepEqual(platform.Labels, { "test.label": `multi-${arch}` });
  }
});

test("list-tags", async () => {
  const app = JSON.parse(text(
    await skopeo([
      "list-tags",
      "--tls-verify=false",
      `docker://${server.host}/demo/app`,
    ]),
  ));
  assert.deepEqual([...app.Tags].sort(), ["v1", "v2"]);
  assert.match(app.Repository, /demo\/app$/);
  const multi = JSON.parse(text(
    await skopeo([
      "list-tags",
      "--tls-verify=false",
      `docker://${server.host}/demo/multi`,
    ]),
  ));
  assert.deepEqual(multi.Tags, ["v1"]);
  // An unknown repository is an error, not an empty list.
  const unknown = await skopeoRun([
    "list-tags",
    "--tls-verify=false",
    `docker://${server.host}/demo/nothing-here`,
  ]);
  assert.notEqual(unknown.status, 0, "list-tags of an unknown repository fails");
});

test("copy registry to registry (another repository: blob mounts); exact bytes", async () => {
  await skopeo([
    "copy",
    "--all",
    "--preserve-digests",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    `docker://${server.host}/demo/app:v1`,
    `docker://${server.host}/other/app:copied`,
  ]);
  await assertRegistryManifest("other/app", "copied", app.manifest, OCI_MANIFEST);
  await assertRegistryBlob("other/app", app.config, "config");
  for (const [i, l] of app.layers.entries()) {
    await assertRegistryBlob("other/app", l.blob, `layer ${i}`);
  }
  // The big layer reached the new repository without being uploaded again (a mount): the
  // access log has no PATCH or PUT carrying its bytes into other/app.
  const log = server.output().split("\n").map((l) => REQUEST_LOG_PATTERN.exec(l)).filter((m) =>
    m !== null
  );
  const uploadedToOther = log.filter((m) =>
    /^\/v2\/other\/app\/blobs\/uploads\//.test(m[3]) && (m[2] === "PATCH" || m[2] === "PUT") &&
    Number(m[5]) >= big.blob.length // bytes in
  );
  assert.deepEqual(uploadedToOther.map((m) => m[0]), [], "the 32 MiB layer was not uploaded");
  // skopeo knows where the blob is from its blob-info cache and asks for a mount, which the
  // registry grants (201).
  const mount = encodeURIComponent(big.descriptor.digest);
  assert.ok(
    log.some((m) =>
      m[2] === "POST" && m[3].startsWith("/v2/other/app/blobs/uploads/") &&
      m[3].includes(`mount=${mount}`) && m[4] === "201"
    ),
    "a cross-repository mount of the 32 MiB layer answered 201",
  );
});

test("copy out to new OCI layouts: every digest and byte equals the input", async () => {
  const out = join(work, "out-app");
  // Without --preserve-digests (as users run it): nothing to convert, so nothing changes.
  await skopeo([
    "copy",
    "--src-tls-verify=false",
    `docker://${server.host}/demo/app:v1`,
    `oci:${out}:app`,
  ]);
  const ref = layoutRef(out, "app");
  assert.equal(ref.digest, app.descriptor.digest);
  assert.equal(ref.size, app.descriptor.size);
  for (const blob of imageBlobs(app)) assertLayoutBlob(out, blob, "app blob");
  // Nothing else was written: exactly the blobs of the image.
  assert.deepEqual(
    readdirSync(join(out, "blobs", "sha256")).sort(),
    imageBlobs(app).map((b) => digestOf(b).slice(7)).sort(),
  );

  const outMulti = join(work, "out-multi");
  await skopeo([
    "copy",
    "--all",
    "--preserve-digests",
    "--src-tls-verify=false",
    `docker://${server.host}/demo/multi:v1`,
    `oci:${outMulti}:multi`,
  ]);
  const multiRef = layoutRef(outMulti, "multi");
  assert.equal(multiRef.digest, multi.descriptor.digest);
  assert.equal(multiRef.mediaType, OCI_INDEX);
  const expected = [multi.bytes, ...amd64.layers.map((l) => l.blob), ...imageBlobs(arm64)];
  expected.push(amd64.config, amd64.manifest);
  for (const blob of expected) assertLayoutBlob(outMulti, blob, "multi blob");
  assert.deepEqual(
    readdirSync(join(outMulti, "blobs", "sha256")).sort(),
    [...new Set(expected.map((b) => digestOf(b).slice(7)))].sort(),
  );
});

test("delete a tag with skopeo: the manifest is gone (404), inspect fails, the rest stays", async () => {
  await skopeo([
    "delete",
    "--tls-verify=false",
    `docker://${server.host}/demo/multi:v1`,
  ]);
  // skopeo deletes by digest (it resolves the tag first): the index and its tag are gone.
  for (const ref of ["v1", multi.descriptor.digest]) {
    for (const method of ["GET", "HEAD"]) {
      const res = await get(`/v2/demo/multi/manifests/${ref}`, method);
      assert.equal(res.status, 404, `${method} demo/multi:${ref} after delete`);
    }
  }
  const inspect = await skopeoRun([
    "inspect",
    "--raw",
    "--tls-verify=false",
    `docker://${server.host}/demo/multi:v1`,
  ]);
  assert.notEqual(inspect.status, 0, "inspect of a deleted tag fails");
  assert.match(inspect.stderr, /manifest unknown|not found|404/i);
  // The platform images were not deleted with the index; other repositories are untouched.
  for (const img of multi.images) {
    await assertRegistryManifest("demo/multi", img.descriptor.digest, img.manifest, OCI_MANIFEST);
  }
  await assertRegistryManifest("demo/app", "v1", app.manifest, OCI_MANIFEST);
  await assertRegistryManifest("other/app", "copied", app.manifest, OCI_MANIFEST);

  // Deleting one of two tags of the same image: skopeo deletes the manifest by digest, so the
  // registry removes the manifest and every tag on it (DELETE by digest, as the spec has it).
  await skopeo(["delete", "--tls-verify=false", `docker://${server.host}/demo/app:v2`]);
  for (const ref of ["v1", "v2", app.descriptor.digest]) {
    const res = await get(`/v2/demo/app/manifests/${ref}`);
    assert.equal(res.status, 404, `demo/app:${ref} after deleting its manifest`);
  }
  const tags = await get("/v2/demo/app/tags/list", "GET", "application/json");
  if (tags.status === 200) {
    assert.deepEqual(JSON.parse(text(tags.body)).tags ?? [], [], "no tags left in demo/app");
  } else assert.equal(tags.status, 404, "tags/list of an emptied repository");
  // Blobs stay until collected; the copy in other/app is whole.
  await assertRegistryManifest("other/app", "copied", app.manifest, OCI_MANIFEST);
  await assertRegistryBlob("other/app", big.blob, "big layer");
});

test("no request failed with a 5xx; SIGTERM stops the server with exit 0", async () => {
  const lines = server.output().split("\n").filter((l) => REQUEST_LOG_PATTERN.test(l));
  assert.ok(lines.length > 20, `the server logged the requests (${lines.length})`);
  const failed = lines.filter((l) => /^5/.test(REQUEST_LOG_PATTERN.exec(l)![4]));
  assert.deepEqual(failed, [], "no 5xx answers");
  const code = await server.stop(15_000);
  assert.equal(code, 0, `exit code after SIGTERM; output tail ${server.output().slice(-500)}`);
});

test.run();
