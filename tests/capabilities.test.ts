/**
 * Optional storage capabilities, through the handler: adapters built from memoryStorage with the
 * members of one capability deleted, and the answer the registry gives without each (405 with
 * `Allow`, a plain session instead of a mount, 404 referrers without `OCI-Subject`), the options
 * that can only narrow them, and the TypeError for a capability only partly present.
 *
 * @module
 */
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { createRegistry, type Registry } from "../lib/registry.ts";
import {
  capabilitiesOf,
  CAPABILITY_MEMBERS,
  CAPABILITY_NAMES,
  REQUIRED_MEMBERS,
} from "../lib/storage/capabilities.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import type { FullStorage, Storage } from "../lib/storage/types.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
const encoder = new TextEncoder();

function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * A view of `full` without the members at `paths` (`"blobs.link"`, or `"uploads"` for the whole
 * store). It shares `full`'s data, so content pushed through `full` is visible through it.
 */
function lacking(full: FullStorage, ...paths: string[]): Storage {
  const view: Record<string, Record<string, unknown> | unknown> = {
    ...full,
    blobs: { ...full.blobs },
    uploads: { ...full.uploads },
    manifests: { ...full.manifests },
    tags: { ...full.tags },
  };
  for (const path of paths) {
    const [store, key] = path.split(".");
    if (key === undefined) delete view[store];
    else if (view[store]) delete (view[store] as Record<string, unknown>)[key];
  }
  return view as unknown as Storage;
}

/** Call `registry` with `method` on `path`. */
async function call(
  registry: Registry,
  method: string,
  path: string,
  init: { body?: Uint8Array; headers?: Record<string, string> } = {},
): Promise<Response> {
  const body = init.body as Uint8Array<ArrayBuffer> | undefined;
  return await registry.fetch(
    new Request(`http://registry.test${path}`, { method, body, headers: init.headers }),
  );
}

/** Assert a 405 UNSUPPORTED whose `Allow` lists exactly `allow` (sorted). */
async function expect405(res: Response, allow: string[], what: string): Promise<void> {
  assert.equal(res.status, 405, `${what}: status`);
  const header = res.headers.get("Allow");
  assert.notEqual(header, null, `${what}: Allow is sent`);
  const methods = header!.split(",").map((m) => m.trim()).filter(Boolean).sort();
  assert.deepEqual(methods, allow, `${what}: Allow`);
  if (res.body !== null) {
    const { errors } = await res.json() as { errors: { code: string }[] };
    assert.equal(errors[0].code, "UNSUPPORTED", `${what}: code`);
  }
}

/** Assert an OCI error with `status` and `code`. */
async function expectError(res: Response, status: number, code: string, what: string) {
  assert.equal(res.status, status, `${what}: status`);
  const { errors } = await res.json() as { errors: { code: string }[] };
  assert.equal(errors[0].code, code, `${what}: code`);
}

/** Push a blob into `repository` in one POST; answers its digest. */
async function pushBlob(registry: Registry, repository: string, bytes: Uint8Array) {
  const digest = digestOf(bytes);
  const res = await call(registry, "POST", `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    body: bytes,
  });
  assert.equal(res.status, 201, `push blob ${digest}`);
  return digest;
}

/** An OCI image manifest over one config blob, optionally with a subject. */
function manifestOf(config: Uint8Array, subject?: { digest: string; size: number }) {
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_EMPTY, digest: digestOf(config), size: config.byteLength },
    layers: [],
  };
  if (subject) {
    manifest.artifactType = "application/x-test";
    manifest.subject = { mediaType: OCI_MANIFEST, ...subject };
  }
  const bytes = encoder.encode(JSON.stringify(manifest));
  return { bytes, digest: digestOf(bytes), size: bytes.byteLength };
}

/**
 * A full memory storage holding repository "a" with a config blob, a manifest tagged `v1` and an
 * open upload session; and the paths to reach them.
 */
async function seeded() {
  const full = memoryStorage();
  const writer = createRegistry({ storage: full });
  const config = encoder.encode("{}");
  const blob = await pushBlob(writer, "a", config);
  const manifest = manifestOf(config);
  const put = await call(writer, "PUT", "/v2/a/manifests/v1", {
    body: manifest.bytes,
    headers: { "Content-Type": OCI_MANIFEST },
  });
  assert.equal(put.status, 201);
  const started = await call(writer, "POST", "/v2/a/blobs/uploads/");
  assert.equal(started.status, 202);
  return { full, config, blob, manifest, session: started.headers.get("Location")! };
}

const caps = suite("capabilities: discovery");

caps("memoryStorage provides every optional capability", () => {
  const found = capabilitiesOf(memoryStorage());
  assert.deepEqual(found, {
    push: true,
    mount: true,
    delete: true,
    referrers: true,
    catalog: true,
    purge: true,
    gc: true,
  });
});

caps("each capability is absent when all its members are; purge goes with uploads", () => {
  // What goes with a capability: purge with push, gc with catalog and delete.
  const dependents: Record<string, string[]> = { push: ["purge"], catalog: ["gc"], delete: ["gc"] };
  for (const name of CAPABILITY_NAMES) {
    const found = capabilitiesOf(lacking(memoryStorage(), ...CAPABILITY_MEMBERS[name]));
    for (const other of CAPABILITY_NAMES) {
      const expected = other !== name && !(dependents[name] ?? []).includes(other);
      assert.equal(found[other], expected, `without ${name}: ${other}`);
    }
  }
  const none = lacking(
    memoryStorage(),
    ...CAPABILITY_NAMES.flatMap((name) => CAPABILITY_MEMBERS[name]),
  );
  assert.deepEqual(Object.values(capabilitiesOf(none)), CAPABILITY_NAMES.map(() => false));
});

caps(
  "a capability only partly present is a TypeError from createRegistry naming the member",
  () => {
    const partial: [string, string][] = [
      ["push", "manifests.put"],
      ["push", "tags.set"],
      ["push", "uploads.commit"],
      ["delete", "manifests.delete"],
      ["delete", "tags.delete"],
      ["delete", "blobs.unlink"],
    ];
    for (const [capability, missing] of partial) {
      assert.throws(
        () => createRegistry({ storage: lacking(memoryStorage(), missing) }),
        (error: unknown) =>
          error instanceof TypeError && error.message.includes(capability) &&
          error.message.includes(missing),
        `without ${missing}`,
      );
    }
    // Only manifests.put left of push: the message names the first member missing.
    assert.throws(
      () => createRegistry({ storage: lacking(memoryStorage(), "uploads", "tags.set") }),
      /push capability: uploads is missing/,
    );
  },
);

caps("a missing required member is a TypeError naming it", () => {
  for (const path of REQUIRED_MEMBERS) {
    assert.throws(
      () => createRegistry({ storage: lacking(memoryStorage(), path) }),
      (error: unknown) => error instanceof TypeError && error.message.includes(path),
      path,
    );
  }
});

caps.run();

const answers = suite("capabilities: what the registry answers without each");

answers("without push: uploads and manifest PUT are 405 with Allow; reads still work", async () => {
  const { full, blob, manifest, session } = await seeded();
  const r = createRegistry({ storage: lacking(full, ...CAPABILITY_MEMBERS.push) });
  const x = encoder.encode("x");
  await expect405(await call(r, "POST", "/v2/a/blobs/uploads/"), [], "POST session");
  await expect405(
    await call(r, "POST", `/v2/a/blobs/uploads/?digest=${digestOf(x)}`, { body: x }),
    [],
    "POST single-request push",
  );
  for (const method of ["GET", "HEAD", "PATCH", "PUT", "DELETE"]) {
    await expect405(await call(r, method, session), [], `${method} session`);
  }
  await expect405(
    await call(r, "PUT", "/v2/a/manifests/v2", {
      body: manifest.bytes,
      headers: { "Content-Type": OCI_MANIFEST },
    }),
    ["DELETE", "GET", "HEAD"],
    "PUT manifest",
  );
  // A wrong method on a route the adapter serves lists what it serves, PUT left out.
  await expect405(await call(r, "POST", "/v2/a/manifests/v1"), ["DELETE", "GET", "HEAD"], "POST");
  assert.equal((await call(r, "GET", "/v2/a/manifests/v1")).status, 200);
  assert.equal((await call(r, "GET", `/v2/a/blobs/${blob}`)).status, 200);
  assert.equal((await call(r, "GET", "/v2/a/tags/list")).status, 200);
  assert.equal((await call(r, "GET", "/v2/_catalog")).status, 200);
  assert.equal((await call(r, "DELETE", "/v2/a/manifests/v1")).status, 202, "delete stays");
});

answers("without mount: POST ?mount=&from= is an ordinary 202 session", async () => {
  const { full, blob } = await seeded();
  const control = await call(
    createRegistry({ storage: full }),
    "POST",
    `/v2/c/blobs/uploads/?mount=${blob}&from=a`,
  );
  assert.equal(control.status, 201, "with mount: mounted");
  const r = createRegistry({ storage: lacking(full, "blobs.link") });
  const res = await call(r, "POST", `/v2/b/blobs/uploads/?mount=${blob}&from=a`);
  assert.equal(res.status, 202);
  const location = res.headers.get("Location")!;
  assert.match(location, /^\/v2\/b\/blobs\/uploads\/[A-Za-z0-9_-]+$/);
  assert.equal(res.headers.get("Range"), "0-0");
  assert.equal((await call(r, "HEAD", `/v2/b/blobs/${blob}`)).status, 404, "nothing mounted");
  assert.equal((await call(r, "GET", location)).status, 204, "the session is usable");
});

answers("without delete: DELETE of manifests, tags and blobs is 405 with Allow", async () => {
  const { full, blob, manifest, session } = await seeded();
  const r = createRegistry({ storage: lacking(full, ...CAPABILITY_MEMBERS.delete) });
  const cases: [string, string[]][] = [
    ["/v2/a/manifests/v1", ["GET", "HEAD", "PUT"]],
    [`/v2/a/manifests/${manifest.digest}`, ["GET", "HEAD", "PUT"]],
    [`/v2/a/blobs/${blob}`, ["GET", "HEAD"]],
  ];
  for (const [path, allow] of cases) {
    await expect405(await call(r, "DELETE", path), allow, `DELETE ${path}`);
  }
  assert.equal((await call(r, "GET", "/v2/a/manifests/v1")).status, 200, "content stays");
  assert.equal((await call(r, "DELETE", session)).status, 204, "cancelling a session is no delete");
});

answers("without referrers: the endpoint is 404 and PUT sends no OCI-Subject", async () => {
  const { full, config, manifest } = await seeded();
  const artifact = manifestOf(config, { digest: manifest.digest, size: manifest.size });
  const put = (r: Registry) =>
    call(r, "PUT", `/v2/a/manifests/${artifact.digest}`, {
      body: artifact.bytes,
      headers: { "Content-Type": OCI_MANIFEST },
    });
  const control = await put(createRegistry({ storage: full }));
  assert.equal(control.headers.get("OCI-Subject"), manifest.digest, "with referrers");
  const r = createRegistry({ storage: lacking(full, "manifests.referrers"), referrers: true });
  const res = await put(r);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("OCI-Subject"), null);
  await expectError(
    await call(r, "GET", `/v2/a/referrers/${manifest.digest}`),
    404,
    "UNSUPPORTED",
    "GET referrers",
  );
  assert.equal((await call(r, "HEAD", `/v2/a/referrers/${manifest.digest}`)).status, 404);
});

answers("without catalog: GET and HEAD /v2/_catalog are 405 with an empty Allow", async () => {
  const { full } = await seeded();
  const r = createRegistry({ storage: lacking(full, "repositories") });
  for (const method of ["GET", "HEAD", "POST"]) {
    const res = await call(r, method, "/v2/_catalog");
    await expect405(res, [], `${method} _catalog`);
    assert.equal(res.headers.get("Allow"), "", `${method}: Allow is empty`);
  }
  assert.equal((await call(r, "GET", "/v2/a/tags/list")).status, 200, "tags still list");
});

answers("without purge: sessions are only refused when expired, never purged", async () => {
  const full = memoryStorage();
  const r = createRegistry({ storage: lacking(full, "uploads.purge"), uploadTtlMs: 20 });
  const first = await call(r, "POST", "/v2/a/blobs/uploads/");
  assert.equal(first.status, 202);
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal((await call(r, "POST", "/v2/a/blobs/uploads/")).status, 202);
  await expectError(
    await call(r, "GET", first.headers.get("Location")!),
    404,
    "BLOB_UPLOAD_UNKNOWN",
    "expired",
  );
  const id = first.headers.get("Docker-Upload-UUID")!;
  assert.ok(await full.uploads.get("a", id), "still stored: nothing purged it");
});

answers("an adapter with only the required members serves pulls and 405s the rest", async () => {
  const { full, blob, manifest, session } = await seeded();
  const all = CAPABILITY_NAMES.flatMap((name) => CAPABILITY_MEMBERS[name]);
  const r = createRegistry({ storage: lacking(full, ...all) });
  const got = await call(r, "GET", "/v2/a/manifests/v1");
  assert.equal(got.status, 200);
  assert.equal(got.headers.get("Docker-Content-Digest"), manifest.digest);
  assert.equal((await call(r, "GET", `/v2/a/blobs/${blob}`)).status, 200);
  const tags = await call(r, "GET", "/v2/a/tags/list");
  assert.deepEqual(await tags.json(), { name: "a", tags: ["v1"] });
  await expect405(await call(r, "PUT", "/v2/a/manifests/v2"), ["GET", "HEAD"], "PUT manifest");
  await expect405(await call(r, "DELETE", `/v2/a/blobs/${blob}`), ["GET", "HEAD"], "DELETE blob");
  await expect405(await call(r, "PATCH", session), [], "PATCH session");
  await expect405(await call(r, "GET", "/v2/_catalog"), [], "catalog");
  assert.equal((await call(r, "GET", `/v2/a/referrers/${manifest.digest}`)).status, 404);
});

answers.run();

const narrowing = suite("capabilities: options only narrow what the adapter provides");

narrowing("deletion: true cannot give an adapter delete; deletion: false takes it", async () => {
  const { full, blob } = await seeded();
  const without = createRegistry({
    storage: lacking(full, ...CAPABILITY_MEMBERS.delete),
    deletion: true,
  });
  await expect405(await call(without, "DELETE", `/v2/a/blobs/${blob}`), ["GET", "HEAD"], "adapter");
  const off = createRegistry({ storage: full, deletion: false });
  const res = await call(off, "DELETE", `/v2/a/blobs/${blob}`);
  await expect405(res.clone(), ["GET", "HEAD"], "option");
  assert.match((await res.json()).errors[0].message, /deletion is disabled/);
});

narrowing("readOnly over an adapter without push says the storage cannot push", async () => {
  const { full } = await seeded();
  const r = createRegistry({ storage: lacking(full, ...CAPABILITY_MEMBERS.push), readOnly: true });
  const res = await call(r, "POST", "/v2/a/blobs/uploads/");
  await expect405(res.clone(), [], "POST");
  assert.match((await res.json()).errors[0].message, /does not accept pushes/);
  const ro = createRegistry({ storage: full, readOnly: true });
  const refused = await call(ro, "POST", "/v2/a/blobs/uploads/");
  assert.match((await refused.json()).errors[0].message, /read-only/);
});

narrowing.run();
