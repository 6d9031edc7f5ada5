/**
 * s3Storage against a real S3 engine (Ceph RGW, started by tests/run.ts through
 * tests/support/ceph.sh; see tests/support/s3_env.ts): the storage contract suite, the HTTP
 * protocol suite, and what only S3 has: multipart parts, sessions shared by replicas, aborts,
 * conditional writes, presigned redirects. Every storage gets a fresh key prefix.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { suite } from "uvu";
import { createRegistry } from "../lib/registry.ts";
import { S3Client } from "../lib/s3/client.ts";
import { createLayout } from "../lib/storage/s3/layout.ts";
import { s3UploadStore } from "../lib/storage/s3/upload_sessions.ts";
import { parseS3Spec } from "../lib/cli/s3_spec.ts";
import { storageFromSpec } from "../lib/cli/from_spec.ts";
import { s3Storage, type S3StorageOptions } from "../lib/storage/s3/mod.ts";
import { type Storage, UploadOffsetError } from "../lib/storage/types.ts";
import { protocolSuite } from "./protocol/mod.ts";
import { digestOf } from "../lib/testing/content.ts";
import { bytesOf, chunksOf, readAll } from "../lib/testing/contract_support.ts";
import { storageContract } from "../lib/testing/storage_contract.ts";
import { prepareS3, removePrefix, s3TestEnv, uniquePrefix } from "./support/s3_env.ts";

const env = s3TestEnv();
await prepareS3(env);
const run = uniquePrefix();
let count = 0;
const MiB = 1024 * 1024;

/** Options for a storage under a fresh prefix (or `prefix`, to share it like replicas do). */
function optionsFor(extra: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return { ...env, prefix: `${run}${count++}`, ...extra };
}

/** Two adapters over one fresh prefix, as two replicas see the bucket. */
function replicaPair(extra: Partial<S3StorageOptions> = {}) {
  const options = optionsFor(extra);
  return { options, a: s3Storage(options), b: s3Storage(options) };
}

const client = new S3Client(env);

/** Resolves once an append (or read, commit) holds session `id` under `prefix`. */
async function held(prefix: string, id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const state = await client.getBytes(`${prefix}/uploads/${id}/state`);
    if (state && JSON.parse(new TextDecoder().decode(state.bytes)).writer) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`session ${id} was never claimed`);
}

/** Multipart uploads in progress under a storage's prefix. */
async function multipartUploads(prefix: string): Promise<number> {
  return (await client.listMultipartUploads(`${prefix}/`)).length;
}

/** Keys under a storage's prefix starting with `under`. */
async function keys(prefix: string, under = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const page of client.listAll({ prefix: `${prefix}/${under}` })) {
    out.push(...page.objects.map((o) => o.key.slice(prefix.length + 1)));
  }
  return out;
}

const s3 = suite("s3 adapter");

s3("partSize below S3's 5 MiB minimum is refused", () => {
  assert.throws(() => s3Storage(optionsFor({ partSize: 5 * MiB - 1 })), RangeError);
  assert.ok(s3Storage(optionsFor({ partSize: 5 * MiB })));
});

s3("uneven appends become 5 MiB parts plus a tail; reads and ranges cross part edges", async () => {
  const options = optionsFor({ partSize: 5 * MiB });
  const s = s3Storage(options);
  const bytes = bytesOf(17 * MiB + 123, 31);
  const u = await s.uploads.create("multi", { algorithm: "sha256" });
  const cuts = [0, 3 * MiB, 7 * MiB + 1, 13 * MiB + 1, 13 * MiB + 2, bytes.byteLength];
  for (let i = 0; i + 1 < cuts.length; i++) {
    // Each append arrives in uneven pieces, as request bodies do.
    const piece = bytes.subarray(cuts[i], cuts[i + 1]);
    const third = Math.floor(piece.byteLength / 3);
    const info = await s.uploads.append(
      "multi",
      u.id,
      cuts[i],
      chunksOf(
        piece.subarray(0, third),
        piece.subarray(third, 2 * third + 7),
        piece.subarray(2 * third + 7),
      ),
    );
    assert.equal(info?.size, cuts[i + 1]);
  }
  assert.equal(await multipartUploads(options.prefix!), 1, "one multipart upload in progress");
  const tails = (await keys(options.prefix!, "uploads/")).filter((k) => k.includes("/tail-"));
  assert.equal(tails.length, 1, `one pending tail object: ${tails}`);
  const d = digestOf(bytes);
  assert.deepEqual(await s.uploads.commit("multi", u.id, d), { digest: d, size: bytes.byteLength });
  assert.equal(await multipartUploads(options.prefix!), 0, "completed");
  assert.deepEqual(await keys(options.prefix!, "uploads/"), [], "session objects removed");
  const got = await readAll((await s.blobs.read("multi", d))!);
  assert.equal(got.byteLength, bytes.byteLength);
  assert.ok(Buffer.compare(got, bytes) === 0, "content");
  for (const [start, end] of [[5 * MiB - 3, 5 * MiB + 2], [15 * MiB, 17 * MiB + 122], [0, 0]]) {
    const part = await readAll((await s.blobs.read("multi", d, { start, end }))!);
    assert.ok(Buffer.compare(part, bytes.subarray(start, end + 1)) === 0, `${start}-${end}`);
  }
});

s3(
  "replicas: appends alternate between two adapters over one prefix; either reads and commits",
  async () => {
    const { options, a, b } = replicaPair({ partSize: 5 * MiB });
    const bytes = bytesOf(16 * MiB + 5, 32);
    const u = await a.uploads.create("r", { algorithm: "sha256" });
    assert.deepEqual(await b.uploads.get("r", u.id), u);
    const cuts = [0, 6 * MiB, 9 * MiB, 11 * MiB];
    const order = [a, b, a];
    for (let i = 0; i < order.length; i++) {
      const info = await order[i].uploads.append(
        "r",
        u.id,
        cuts[i],
        chunksOf(bytes.subarray(cuts[i], cuts[i + 1])),
      );
      assert.equal(info?.size, cuts[i + 1]);
      // The other replica sees the new size at once, and refuses a stale offset.
      const other = i % 2 ? a : b;
      assert.equal((await other.uploads.get("r", u.id))?.size, cuts[i + 1]);
      await assert.rejects(
        other.uploads.append("r", u.id, cuts[i], chunksOf(bytes.subarray(0, 1))),
        (e: unknown) => e instanceof UploadOffsetError && e.size === cuts[i + 1],
      );
    }
    // B re-hashes what A and B received (completing the multipart upload into a temp object)...
    const received = await readAll((await b.uploads.read("r", u.id))!);
    assert.equal(digestOf(received), digestOf(bytes.subarray(0, 11 * MiB)));
    assert.equal(await multipartUploads(options.prefix!), 0);
    // ...and the session still takes appends afterwards (a new multipart upload copies it in).
    const info = await a.uploads.append("r", u.id, 11 * MiB, chunksOf(bytes.subarray(11 * MiB)));
    assert.equal(info?.size, bytes.byteLength);
    const d = digestOf(bytes);
    assert.equal(await a.blobs.stat("r", d), undefined, "nothing visible before commit");
    // B hashed 11 MiB, A appended since: B must hash again before it may commit.
    await assert.rejects(
      b.uploads.commit("r", u.id, d),
      (e: unknown) => e instanceof UploadOffsetError && e.size === bytes.byteLength,
    );
    assert.equal(await a.blobs.stat("r", d), undefined, "still nothing visible");
    assert.equal(digestOf(await readAll((await b.uploads.read("r", u.id))!)), d);
    assert.deepEqual(await b.uploads.commit("r", u.id, d), { digest: d, size: bytes.byteLength });
    const got = await readAll((await a.blobs.read("r", d))!);
    assert.ok(Buffer.compare(got, bytes) === 0);
    assert.equal(await a.uploads.get("r", u.id), undefined);
  },
);

s3("replicas: an append in flight on one adapter makes the other's fail at once", async () => {
  const { options, a, b } = replicaPair();
  const u = await a.uploads.create("r", { algorithm: "sha256" });
  let open = () => {};
  const gate = new Promise<void>((r) => (open = r));
  async function* slow() {
    yield bytesOf(100, 33);
    await gate;
    yield bytesOf(50, 34);
  }
  const first = a.uploads.append("r", u.id, 0, slow());
  await held(options.prefix!, u.id);
  await assert.rejects(
    b.uploads.append("r", u.id, 0, chunksOf(bytesOf(10))),
    (e: unknown) => e instanceof UploadOffsetError && e.size === 0,
  );
  open();
  assert.equal((await first)?.size, 150);
  assert.equal((await b.uploads.append("r", u.id, 150, chunksOf(bytesOf(1))))?.size, 151);
});

s3(
  "replicas: an append stalled past its lease never writes a part into the taker's upload",
  async () => {
    // Two replicas with a short lease: A's append stalls mid-part past the lease, B takes the
    // session over and appends; when A's bytes come back, A must not upload its part 2 over B's.
    const prefix = optionsFor().prefix!;
    const store = () =>
      s3UploadStore(client, createLayout(prefix), { partSize: 5 * MiB, leaseMs: 600 });
    const [a, b] = [store(), store()];
    const head = bytesOf(5 * MiB, 51);
    const ours = bytesOf(6 * MiB, 52);
    const theirs = bytesOf(6 * MiB, 53);
    const u = await a.create("l", { algorithm: "sha256" });
    await a.append("l", u.id, 0, chunksOf(head));
    let resume = () => {};
    const stalled = new Promise<void>((r) => (resume = r));
    async function* slow() {
      yield ours.subarray(0, 3 * MiB);
      await stalled;
      yield ours.subarray(3 * MiB);
    }
    const first = a.append("l", u.id, 5 * MiB, slow());
    await new Promise((r) => setTimeout(r, 900));
    assert.equal((await b.append("l", u.id, 5 * MiB, chunksOf(theirs)))?.size, 11 * MiB);
    resume();
    await assert.rejects(
      first,
      (e: unknown) => e instanceof UploadOffsetError && e.size === 11 * MiB,
    );
    const expected = Buffer.concat([head, theirs]);
    assert.equal(digestOf(await readAll((await b.read("l", u.id))!)), digestOf(expected));
    const d = digestOf(expected);
    assert.deepEqual(await b.commit("l", u.id, d), { digest: d, size: expected.byteLength });
    const blob = await readAll((await s3Storage({ ...env, prefix }).blobs.read("l", d))!);
    assert.ok(Buffer.compare(blob, expected) === 0, "the blob holds B's bytes");
  },
);

s3(
  "replicas: read and commit refuse a session an append holds; concurrent commits agree",
  async () => {
    const { options, a, b } = replicaPair({ partSize: 5 * MiB });
    const bytes = bytesOf(7 * MiB, 54);
    const u = await a.uploads.create("h", { algorithm: "sha256" });
    await a.uploads.append("h", u.id, 0, chunksOf(bytes.subarray(0, 6 * MiB)));
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    async function* slow() {
      yield bytes.subarray(6 * MiB, 6 * MiB + 10);
      await gate;
      yield bytes.subarray(6 * MiB + 10);
    }
    const appending = a.uploads.append("h", u.id, 6 * MiB, slow());
    await held(options.prefix!, u.id);
    const d = digestOf(bytes);
    const busy = (e: unknown) => e instanceof UploadOffsetError && e.size === 6 * MiB;
    await assert.rejects(b.uploads.read("h", u.id), busy);
    await assert.rejects(b.uploads.commit("h", u.id, d), busy);
    open();
    assert.equal((await appending)?.size, bytes.byteLength);
    assert.equal(await b.blobs.stat("h", d), undefined, "nothing visible");
    // Both replicas hashed all of it and commit at once: one does the work, both answer the blob.
    for (const s of [a, b]) await readAll((await s.uploads.read("h", u.id))!);
    const both = await Promise.all([a, b].map((s) => s.uploads.commit("h", u.id, d)));
    assert.deepEqual(both, [{ digest: d, size: bytes.byteLength }, {
      digest: d,
      size: bytes.byteLength,
    }]);
    assert.ok(Buffer.compare(await readAll((await b.blobs.read("h", d))!), bytes) === 0);
    assert.equal(await multipartUploads(options.prefix!), 0);
  },
);

s3("a completion whose answer was lost (the multipart upload is gone) is recognised", async () => {
  const options = optionsFor({ partSize: 5 * MiB });
  const s = s3Storage(options);
  const bytes = bytesOf(7 * MiB, 55);
  const u = await s.uploads.create("lost", { algorithm: "sha256" });
  await s.uploads.append("lost", u.id, 0, chunksOf(bytes));
  // Complete it behind the adapter's back, as a first CompleteMultipartUpload whose response
  // never arrived would have: the recorded parts plus the tail as the last part.
  const dir = `${options.prefix}/uploads/${u.id}/`;
  const state = JSON.parse(new TextDecoder().decode((await client.getBytes(`${dir}state`))!.bytes));
  const tail = (await client.getBytes(state.tail.key))!.bytes;
  const { uploadId, parts } = state.multipart;
  const tailEtag = await client.uploadPart(`${dir}data`, uploadId, 2, tail);
  await client.completeMultipartUpload(`${dir}data`, uploadId, [
    { partNumber: 1, etag: parts[0].etag },
    { partNumber: 2, etag: tailEtag },
  ]);
  assert.equal(digestOf(await readAll((await s.uploads.read("lost", u.id))!)), digestOf(bytes));
  const d = digestOf(bytes);
  assert.deepEqual(await s.uploads.commit("lost", u.id, d), { digest: d, size: bytes.byteLength });
  assert.ok(Buffer.compare(await readAll((await s.blobs.read("lost", d))!), bytes) === 0);
});

s3("a body failing after a part was uploaded leaves the session as it was", async () => {
  const options = optionsFor({ partSize: 5 * MiB });
  const s = s3Storage(options);
  const bytes = bytesOf(12 * MiB, 35);
  const u = await s.uploads.create("f", { algorithm: "sha256" });
  await s.uploads.append("f", u.id, 0, chunksOf(bytes.subarray(0, 2 * MiB)));
  const boom = new Error("client went away");
  async function* broken() {
    yield bytes.subarray(2 * MiB, 9 * MiB);
    throw boom;
  }
  await assert.rejects(s.uploads.append("f", u.id, 2 * MiB, broken()), (e) => e === boom);
  assert.equal((await s.uploads.get("f", u.id))?.size, 2 * MiB);
  assert.equal(
    await multipartUploads(options.prefix!),
    0,
    "the multipart upload it started is aborted",
  );
  await s.uploads.append("f", u.id, 2 * MiB, chunksOf(bytes.subarray(2 * MiB)));
  const d = digestOf(bytes);
  await s.uploads.commit("f", u.id, d);
  assert.ok(Buffer.compare(await readAll((await s.blobs.read("f", d))!), bytes) === 0);
});

s3("cancel and purge abort the multipart upload and remove the session's objects", async () => {
  const options = optionsFor({ partSize: 5 * MiB });
  const s = s3Storage(options);
  const one = await s.uploads.create("c", { algorithm: "sha256" });
  await s.uploads.append("c", one.id, 0, chunksOf(bytesOf(6 * MiB, 36)));
  const two = await s.uploads.create("c", { algorithm: "sha256" });
  await s.uploads.append("c", two.id, 0, chunksOf(bytesOf(6 * MiB, 37)));
  assert.equal(await multipartUploads(options.prefix!), 2);
  assert.equal(await s.uploads.cancel("c", one.id), true);
  assert.equal(await multipartUploads(options.prefix!), 1);
  assert.equal(await s.uploads.purge!(Date.now() + 1000), 1);
  assert.equal(await multipartUploads(options.prefix!), 0);
  assert.deepEqual(await keys(options.prefix!, "uploads/"), []);
});

s3(
  "purge(before) ends only sessions created before the cut-off; the registry refuses them first",
  async () => {
    const options = optionsFor({ partSize: 5 * MiB });
    const s = s3Storage(options);
    const old = await s.uploads.create("p", { algorithm: "sha256" });
    await s.uploads.append("p", old.id, 0, chunksOf(bytesOf(6 * MiB, 41)));
    await new Promise((r) => setTimeout(r, 5));
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    const bytes = bytesOf(6 * MiB, 42);
    const young = await s.uploads.create("p", { algorithm: "sha256" });
    await s.uploads.append("p", young.id, 0, chunksOf(bytes));
    assert.equal(await multipartUploads(options.prefix!), 2);
    // Expiry is the handler's: through a registry whose TTL the old session has outlived, it is
    // unknown, while the adapter (no TTL of its own) still holds it.
    const registry = createRegistry({ storage: s, uploadTtlMs: Date.now() - old.createdAt - 1 });
    const status = await registry.fetch(new Request(`http://r/v2/p/blobs/uploads/${old.id}`));
    assert.equal(status.status, 404);
    assert.equal((await status.json()).errors[0].code, "BLOB_UPLOAD_UNKNOWN");
    assert.equal((await s.uploads.get("p", old.id))?.size, 6 * MiB);
    // purge: the old session's record, objects and multipart upload go; the young one stays whole.
    assert.equal(await s.uploads.purge(cut), 1);
    assert.equal(await s.uploads.get("p", old.id), undefined);
    assert.equal(await multipartUploads(options.prefix!), 1);
    assert.ok(
      (await keys(options.prefix!, "uploads/")).every((k) => k.startsWith(`uploads/${young.id}/`)),
      "only the young session's objects remain",
    );
    assert.equal(await s.uploads.purge(cut), 0, "nothing more before the cut-off");
    const digest = digestOf(bytes);
    assert.equal((await s.uploads.commit("p", young.id, digest, bytes.byteLength))?.size, 6 * MiB);
    assert.equal(await multipartUploads(options.prefix!), 0);
  },
);

s3(
  "listing tags reads only the repository's tag keys; nested repositories stay apart",
  async () => {
    const options = optionsFor();
    const s = s3Storage(options);
    const m = {
      digest: digestOf(new Uint8Array([1])),
      mediaType: "application/json",
      bytes: new Uint8Array([1]),
    };
    await s.manifests.put("a", m);
    await s.manifests.put("a/b", m);
    await s.tags.set("a", "one", m.digest);
    await s.tags.set("a/b", "two", m.digest);
    assert.deepEqual((await s.tags.list("a", { limit: 10 }))?.items, ["one"]);
    assert.deepEqual((await s.tags.list("a/b", { limit: 10 }))?.items, ["two"]);
    assert.deepEqual((await s.repositories({ limit: 10 })).items, ["a", "a/b"]);
    assert.deepEqual(await keys(options.prefix!, "repositories/a/_tags/"), [
      "repositories/a/_tags/one",
    ]);
  },
);

s3("conditional writes: stale If-Match and If-None-Match on an existing object fail", async () => {
  const options = optionsFor();
  const key = `${options.prefix}/cas`;
  const first = await client.putObject(key, "one", { ifNoneMatch: "*" });
  assert.ok(first);
  assert.equal(await client.putObject(key, "two", { ifNoneMatch: "*" }), undefined);
  const second = await client.putObject(key, "two", { ifMatch: first });
  assert.ok(second);
  assert.equal(await client.putObject(key, "three", { ifMatch: first }), undefined, "stale ETag");
  assert.equal(new TextDecoder().decode((await client.getBytes(key))!.bytes), "two");
  assert.equal(await client.putObject(`${key}-absent`, "x", { ifMatch: first }), undefined);
});

s3("redirect: whole-blob GETs answer 307 to a presigned URL; ranged GETs never", async () => {
  const plain = s3Storage(optionsFor());
  assert.equal(plain.blobs.redirectUrl, undefined, "off by default");
  const storage: Storage = s3Storage(optionsFor({ redirect: true }));
  const registry = createRegistry({ storage });
  const bytes = bytesOf(3000, 38);
  const d = digestOf(bytes);
  const put = await registry.fetch(
    new Request(`http://localhost/v2/red/blobs/uploads/?digest=${d}`, {
      method: "POST",
      body: bytes as Uint8Array<ArrayBuffer>,
    }),
  );
  assert.equal(put.status, 201);
  const res = await registry.fetch(new Request(`http://localhost/v2/red/blobs/${d}`));
  assert.equal(res.status, 307);
  const location = res.headers.get("Location")!;
  assert.match(location, /X-Amz-Signature=/);
  const fetched = await fetch(location);
  assert.equal(fetched.status, 200);
  assert.deepEqual(new Uint8Array(await fetched.arrayBuffer()), bytes);
  const ranged = await registry.fetch(
    new Request(`http://localhost/v2/red/blobs/${d}`, { headers: { Range: "bytes=10-19" } }),
  );
  assert.equal(ranged.status, 206);
  assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), bytes.subarray(10, 20));
  const other = await registry.fetch(new Request(`http://localhost/v2/elsewhere/blobs/${d}`));
  assert.equal(other.status, 404, "no redirect for a repository without the blob");
  await other.body?.cancel();
});

s3("--storage s3://BUCKET/PREFIX?endpoint=&region= with AWS_* credentials", async () => {
  const creds = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
  assert.deepEqual(
    parseS3Spec("s3://b/p/q/?endpoint=http://127.0.0.1:9&region=r&partSize=6291456", creds),
    {
      endpoint: "http://127.0.0.1:9",
      bucket: "b",
      region: "r",
      accessKeyId: "k",
      secretAccessKey: "s",
      prefix: "p/q",
      partSize: 6291456,
    },
  );
  assert.equal(
    parseS3Spec("s3://b", { ...creds, AWS_REGION: "eu-west-1" }).endpoint,
    "https://s3.eu-west-1.amazonaws.com",
  );
  assert.equal(parseS3Spec("s3://b?redirect=true", creds).redirect, true);
  assert.throws(() => parseS3Spec("s3://b", {}), /AWS_ACCESS_KEY_ID/);
  assert.throws(() => parseS3Spec("s3://b?partSize=100", creds), /5 MiB/);
  assert.throws(() => parseS3Spec("s3://b?bogus=1", creds), /unknown s3 storage parameter/);
  assert.throws(() => parseS3Spec("s3://", creds), /malformed/);
  // Through storageFromSpec, against the test engine (credentials from the environment).
  const prefix = optionsFor().prefix!;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = env.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = env.secretAccessKey;
  try {
    const spec = `s3://${env.bucket}/${prefix}?endpoint=${
      encodeURIComponent(env.endpoint)
    }&region=${env.region}`;
    const storage = await storageFromSpec(spec, process.env);
    const m = {
      digest: digestOf(new Uint8Array([7])),
      mediaType: "application/json",
      bytes: new Uint8Array([7]),
    };
    await storage.manifests.put("spec", m);
    assert.deepEqual(await keys(prefix, "catalog/"), ["catalog/spec"]);
    await assert.rejects(
      storageFromSpec(
        `s3://no-such-bucket-here?endpoint=${encodeURIComponent(env.endpoint)}`,
        process.env,
      ),
      /not usable/,
    );
  } finally {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  }
});

s3.run();

const contract = suite("s3 storage contract");
// Garbage collection on S3 (capability gc) is not there yet.
storageContract("s3", () => s3Storage(optionsFor()), { test: contract, skip: ["gc"] });
contract.run();
protocolSuite("s3", () => s3Storage(optionsFor()));

const cleanup = suite("s3 cleanup");
cleanup("every object and multipart upload of this run can be removed", async () => {
  assert.equal(await removePrefix(env, run), 0);
});
cleanup.run();
