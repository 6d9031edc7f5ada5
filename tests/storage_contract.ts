/**
 * The storage contract suite: every method of lib/storage/types.ts and its edge cases, run against
 * a storage factory. Every adapter runs it unchanged:
 * `storageContract("fs", () => fsStorage({ root }), cleanup)`.
 *
 * The handler verifies digests before it calls `commit`, so this suite computes real digests with
 * node:crypto and never commits bytes under a wrong digest.
 *
 * @module
 */
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { suite } from "uvu";
import {
  type BlobBody,
  type Descriptor,
  type ManifestRecord,
  type Storage,
  UploadOffsetError,
} from "../lib/storage/types.ts";

/** Makes a fresh, empty storage. */
export type StorageFactory = () => Storage | Promise<Storage>;

const encoder = new TextEncoder();

/** `sha256:<hex>` (or another algorithm) of `bytes`. */
export function digestOf(bytes: Uint8Array, algorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** An async iterable over `chunks`. */
export async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/**
 * Assert that `actual` holds exactly the bytes of `expected`, with a short message (a deep-equal
 * diff of megabyte arrays takes minutes to print).
 */
export function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, what = "bytes") {
  assert.ok(actual instanceof Uint8Array, `${what}: not a Uint8Array`);
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  const at = actual.findIndex((b, i) => b !== expected[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

/** Read a blob body or stream to its end. */
export async function readAll(body: BlobBody | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Push `bytes` as one blob into `repository` through an upload session; answers its digest. */
export async function pushBlob(
  storage: Storage,
  repository: string,
  bytes: Uint8Array,
  pieces = 1,
): Promise<string> {
  const upload = await storage.uploads.create(repository, { algorithm: "sha256" });
  const step = Math.max(1, Math.ceil(bytes.byteLength / pieces));
  let offset = 0;
  while (offset < bytes.byteLength) {
    const chunk = bytes.subarray(offset, offset + step);
    const info = await storage.uploads.append(repository, upload.id, offset, chunksOf(chunk));
    assert.ok(info);
    offset = info.size;
  }
  const digest = digestOf(bytes);
  const blob = await storage.uploads.commit(repository, upload.id, digest);
  assert.deepEqual(blob, { digest, size: bytes.byteLength });
  return digest;
}

/** A manifest record for `json`, optionally with a subject (and then a referrer descriptor). */
export function manifestOf(json: unknown, subject?: string, artifactType?: string): ManifestRecord {
  const bytes = encoder.encode(JSON.stringify(json));
  const digest = digestOf(bytes);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const record: ManifestRecord = { digest, mediaType, bytes };
  if (subject) {
    record.subject = subject;
    record.referrer = {
      mediaType,
      digest,
      size: bytes.byteLength,
      artifactType: artifactType ?? "application/example",
      annotations: { "org.example": String(digest.slice(7, 15)) },
    };
  }
  return record;
}

function byDigest(a: Descriptor, b: Descriptor): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

/** A promise with its resolve function, to hold an iterable open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Register and run the storage contract suite.
 *
 * @param label Names the adapter in the test output.
 * @param makeStorage Makes a fresh, empty storage for each test.
 * @param cleanup Called on every storage made, after each test (remove temp dirs, buckets).
 */
export function storageContract(
  label: string,
  makeStorage: StorageFactory,
  cleanup?: (storage: Storage) => Promise<void>,
): void {
  const made: Storage[] = [];
  const test = suite(`${label} storage contract`);

  async function fresh(): Promise<Storage> {
    const storage = await makeStorage();
    made.push(storage);
    return storage;
  }

  test.after.each(async () => {
    for (const storage of made.splice(0)) {
      await storage.close?.();
      await cleanup?.(storage);
    }
  });

  // ---- blobs ---------------------------------------------------------------------------------

  test("blobs: absence is undefined or false, not an exception", async () => {
    const s = await fresh();
    const d = digestOf(bytesOf(10));
    assert.equal(await s.blobs.stat("a", d), undefined);
    assert.equal(await s.blobs.read("a", d), undefined);
    assert.equal(await s.blobs.read("a", d, { start: 0, end: 1 }), undefined);
    assert.equal(await s.blobs.link("a", d), undefined);
    assert.equal(await s.blobs.unlink("a", d), false);
    assert.equal(await s.blobs.stat("a", d), undefined, "a failed link links nothing");
  });

  test("blobs: committed blob stats and reads back exactly", async () => {
    const s = await fresh();
    const bytes = bytesOf(300_000, 2);
    const d = await pushBlob(s, "lib/one", bytes, 3);
    assert.deepEqual(await s.blobs.stat("lib/one", d), { digest: d, size: bytes.byteLength });
    const body = await s.blobs.read("lib/one", d);
    assert.ok(body);
    assertBytes(await readAll(body), bytes);
    // A second read works too (bodies are not shared).
    assertBytes(await readAll((await s.blobs.read("lib/one", d))!), bytes);
  });

  test("blobs: ranges (first byte, last byte, middle, whole, across appends)", async () => {
    const s = await fresh();
    const bytes = bytesOf(2048, 3);
    const d = await pushBlob(s, "r", bytes, 4);
    for (
      const [start, end] of [[0, 0], [2047, 2047], [500, 1499], [0, 2047], [511, 512], [1, 2046]]
    ) {
      const body = await s.blobs.read("r", d, { start, end });
      assert.ok(body);
      assertBytes(await readAll(body), bytes.subarray(start, end + 1), `${start}-${end}`);
    }
  });

  test("blobs: a large blob ranged read returns only the range", async () => {
    const s = await fresh();
    const bytes = bytesOf(3 * 1024 * 1024 + 17, 4);
    const d = await pushBlob(s, "big", bytes, 3);
    const start = 1024 * 1024 - 5;
    const end = 2 * 1024 * 1024 + 5;
    const got = await readAll((await s.blobs.read("big", d, { start, end }))!);
    assert.equal(got.byteLength, end - start + 1);
    assert.deepEqual(got, bytes.subarray(start, end + 1));
  });

  test("blobs: the empty blob", async () => {
    const s = await fresh();
    const empty = new Uint8Array(0);
    const upload = await s.uploads.create("e", { algorithm: "sha256" });
    const d = digestOf(empty);
    assert.equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.deepEqual(await s.uploads.commit("e", upload.id, d), { digest: d, size: 0 });
    assert.deepEqual(await s.blobs.stat("e", d), { digest: d, size: 0 });
    assertBytes(await readAll((await s.blobs.read("e", d))!), empty);
    // An append of an empty iterable to a new session is fine too.
    const u2 = await s.uploads.create("e2", { algorithm: "sha256" });
    assert.equal((await s.uploads.append("e2", u2.id, 0, chunksOf()))?.size, 0);
    assert.deepEqual(await s.uploads.commit("e2", u2.id, d), { digest: d, size: 0 });
    assert.equal(await s.blobs.unlink("e", d), true);
    assert.equal(await s.blobs.stat("e", d), undefined);
    assert.deepEqual(await s.blobs.stat("e2", d), { digest: d, size: 0 });
  });

  test("blobs: visible only in repositories that link them", async () => {
    const s = await fresh();
    const bytes = bytesOf(1000, 5);
    const d = await pushBlob(s, "one", bytes);
    assert.equal(await s.blobs.stat("two", d), undefined);
    assert.equal(await s.blobs.read("two", d), undefined);
    assert.equal(await s.blobs.stat("one/two", d), undefined, "no prefix visibility");
    assert.equal(await s.blobs.unlink("two", d), false);
  });

  test("blobs: link mounts existing content; unlink removes only that link", async () => {
    const s = await fresh();
    const bytes = bytesOf(5000, 6);
    const d = await pushBlob(s, "src", bytes);
    assert.deepEqual(await s.blobs.link("dst/x", d), { digest: d, size: 5000 });
    assert.deepEqual(await s.blobs.link("dst/x", d), { digest: d, size: 5000 }, "idempotent");
    assertBytes(await readAll((await s.blobs.read("dst/x", d))!), bytes);
    assert.equal(await s.blobs.unlink("src", d), true);
    assert.equal(await s.blobs.unlink("src", d), false);
    assert.equal(await s.blobs.stat("src", d), undefined);
    assert.equal(await s.blobs.read("src", d), undefined);
    assert.deepEqual(await s.blobs.stat("dst/x", d), { digest: d, size: 5000 });
    // Content stays stored: it can be linked back.
    assert.deepEqual(await s.blobs.link("src", d), { digest: d, size: 5000 });
    assertBytes(await readAll((await s.blobs.read("src", d))!), bytes);
  });

  test("blobs: the same content pushed twice is stored once and stays correct", async () => {
    const s = await fresh();
    const bytes = bytesOf(70_000, 7);
    const d1 = await pushBlob(s, "a", bytes, 2);
    const d2 = await pushBlob(s, "b", bytes, 5);
    assert.equal(d1, d2);
    assertBytes(await readAll((await s.blobs.read("a", d1))!), bytes);
    assertBytes(await readAll((await s.blobs.read("b", d1))!), bytes);
    assert.equal(await s.blobs.unlink("a", d1), true);
    assertBytes(await readAll((await s.blobs.read("b", d1))!), bytes);
  });

  test("blobs: mutating the chunks a read hands out does not change what is stored", async () => {
    // (Chunks given to append belong to the adapter from then on, as with a ReadableStream: the
    // caller does not reuse them, so this suite does not mutate them.)
    const s = await fresh();
    const bytes = bytesOf(40_000, 8);
    const upload = await s.uploads.create("m", { algorithm: "sha256" });
    await s.uploads.append("m", upload.id, 0, chunksOf(bytes.subarray(0, 10), bytes.subarray(10)));
    const d = digestOf(bytes);
    await s.uploads.commit("m", upload.id, d);
    const body = (await s.blobs.read("m", d))!;
    const stream = body instanceof Blob ? body.stream() : body;
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunk.fill(1);
    assertBytes(await readAll((await s.blobs.read("m", d))!), bytes);
  });

  // ---- uploads -------------------------------------------------------------------------------

  test("uploads: create answers a fresh session; get finds it only in its repository", async () => {
    const s = await fresh();
    const before = Date.now();
    const u = await s.uploads.create("lib/x", { algorithm: "sha512" });
    assert.match(u.id, /^[A-Za-z0-9_-]{16,128}$/);
    assert.equal(u.repository, "lib/x");
    assert.equal(u.size, 0);
    assert.equal(u.algorithm, "sha512");
    assert.ok(u.createdAt >= before - 1000 && u.createdAt <= Date.now() + 1000);
    assert.deepEqual(await s.uploads.get("lib/x", u.id), u);
    assert.equal(await s.uploads.get("lib/y", u.id), undefined);
    assert.equal(await s.uploads.get("lib/x", "nosuchsession0000"), undefined);
    const u2 = await s.uploads.create("lib/x", { algorithm: "sha256" });
    assert.notEqual(u2.id, u.id);
  });

  test("uploads: unknown sessions answer undefined/false everywhere", async () => {
    const s = await fresh();
    const d = digestOf(new Uint8Array(0));
    const id = "AAAAAAAAAAAAAAAAAAAAAAAA";
    assert.equal(await s.uploads.get("a", id), undefined);
    assert.equal(await s.uploads.append("a", id, 0, chunksOf(bytesOf(3))), undefined);
    assert.equal(await s.uploads.read("a", id), undefined);
    assert.equal(await s.uploads.commit("a", id, d), undefined);
    assert.equal(await s.uploads.cancel("a", id), false);
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    // The wrong repository is an unknown session, and must not disturb it.
    assert.equal(await s.uploads.append("b", u.id, 0, chunksOf(bytesOf(3))), undefined);
    assert.equal(await s.uploads.read("b", u.id), undefined);
    assert.equal(await s.uploads.commit("b", u.id, d), undefined);
    assert.equal(await s.uploads.cancel("b", u.id), false);
    assert.equal((await s.uploads.get("a", u.id))?.size, 0);
  });

  test("uploads: appends accumulate; read returns the bytes received", async () => {
    const s = await fresh();
    const bytes = bytesOf(100_000, 9);
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    let info = await s.uploads.append(
      "a",
      u.id,
      0,
      chunksOf(bytes.subarray(0, 1), bytes.subarray(1, 30_000)),
    );
    assert.equal(info?.size, 30_000);
    assert.equal(info?.id, u.id);
    assert.equal(info?.repository, "a");
    assert.equal((await s.uploads.get("a", u.id))?.size, 30_000);
    assertBytes(await readAll((await s.uploads.read("a", u.id))!), bytes.subarray(0, 30_000));
    info = await s.uploads.append("a", u.id, 30_000, chunksOf(bytes.subarray(30_000)));
    assert.equal(info?.size, 100_000);
    assertBytes(await readAll((await s.uploads.read("a", u.id))!), bytes);
    assert.equal(digestOf(await readAll((await s.uploads.read("a", u.id))!)), digestOf(bytes));
  });

  test("uploads: a wrong offset throws UploadOffsetError with the actual size", async () => {
    const s = await fresh();
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    await s.uploads.append("a", u.id, 0, chunksOf(bytesOf(10)));
    for (const offset of [0, 5, 11, 1000]) {
      await assert.rejects(
        s.uploads.append("a", u.id, offset, chunksOf(bytesOf(3))),
        (e: unknown) => e instanceof UploadOffsetError && e.size === 10,
      );
    }
    assert.equal((await s.uploads.get("a", u.id))?.size, 10);
    assertBytes(await readAll((await s.uploads.read("a", u.id))!), bytesOf(10));
  });

  test("uploads: an append whose data throws mid-way appends nothing", async () => {
    const s = await fresh();
    const bytes = bytesOf(200_000, 10);
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    await s.uploads.append("a", u.id, 0, chunksOf(bytes.subarray(0, 1000)));
    const boom = new Error("client went away");
    async function* broken() {
      yield bytes.subarray(1000, 50_000);
      yield bytes.subarray(50_000, 120_000);
      throw boom;
    }
    await assert.rejects(s.uploads.append("a", u.id, 1000, broken()), (e) => e === boom);
    assert.equal((await s.uploads.get("a", u.id))?.size, 1000);
    assertBytes(await readAll((await s.uploads.read("a", u.id))!), bytes.subarray(0, 1000));
    // The session goes on at the old offset, and the broken bytes never show up.
    const info = await s.uploads.append("a", u.id, 1000, chunksOf(bytes.subarray(1000)));
    assert.equal(info?.size, bytes.byteLength);
    const d = digestOf(bytes);
    assert.deepEqual(await s.uploads.commit("a", u.id, d), { digest: d, size: bytes.byteLength });
    assertBytes(await readAll((await s.blobs.read("a", d))!), bytes);
  });

  test("uploads: two concurrent appends at the same offset: one wins, one UploadOffsetError", async () => {
    const s = await fresh();
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    const first = bytesOf(5000, 11);
    const second = bytesOf(7000, 12);
    const g = gate();
    async function* slow() {
      yield first.subarray(0, 100);
      await g.promise;
      yield first.subarray(100);
    }
    const a = s.uploads.append("a", u.id, 0, slow());
    // Let the first append start streaming before the second arrives.
    await new Promise((r) => setTimeout(r, 20));
    const b = s.uploads.append("a", u.id, 0, chunksOf(second));
    setTimeout(g.open, 20);
    const [ra, rb] = await Promise.allSettled([a, b]);
    const ok = [ra, rb].filter((r) => r.status === "fulfilled");
    const failed = [ra, rb].filter((r) => r.status === "rejected");
    assert.equal(ok.length, 1, "exactly one append succeeds");
    assert.equal(failed.length, 1);
    assert.ok((failed[0] as PromiseRejectedResult).reason instanceof UploadOffsetError);
    const winner = ra.status === "fulfilled" ? first : second;
    const info = (ok[0] as PromiseFulfilledResult<unknown>).value as { size: number };
    assert.equal(info.size, winner.byteLength);
    assert.equal((await s.uploads.get("a", u.id))?.size, winner.byteLength);
    assertBytes(await readAll((await s.uploads.read("a", u.id))!), winner);
  });

  test("uploads: an in-flight append makes a second one at its offset fail at once", async () => {
    const s = await fresh();
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    const g = gate();
    async function* held() {
      yield bytesOf(100, 13);
      await g.promise;
    }
    const a = s.uploads.append("a", u.id, 0, held());
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(
      s.uploads.append("a", u.id, 0, chunksOf(bytesOf(10))),
      (e: unknown) => e instanceof UploadOffsetError && e.size === 0,
    );
    g.open();
    assert.equal((await a)?.size, 100);
    // After it finished, the next offset works.
    assert.equal((await s.uploads.append("a", u.id, 100, chunksOf(bytesOf(1))))?.size, 101);
  });

  test("uploads: a session cancelled during an append: the append answers undefined", async () => {
    const s = await fresh();
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    const g = gate();
    const bytes = bytesOf(300_000, 21);
    async function* held() {
      yield bytes.subarray(0, 100_000);
      await g.promise;
      yield bytes.subarray(100_000);
    }
    const a = s.uploads.append("a", u.id, 0, held());
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await s.uploads.cancel("a", u.id), true);
    g.open();
    assert.equal(await a, undefined);
    assert.equal(await s.uploads.get("a", u.id), undefined);
    assert.equal(await s.blobs.link("a", digestOf(bytes)), undefined);
  });

  test("uploads: commit links into the repository and ends the session", async () => {
    const s = await fresh();
    const bytes = bytesOf(12_345, 14);
    const u = await s.uploads.create("lib/c", { algorithm: "sha256" });
    await s.uploads.append("lib/c", u.id, 0, chunksOf(bytes));
    const d = digestOf(bytes);
    assert.equal(await s.blobs.stat("lib/c", d), undefined, "not visible before commit");
    assert.deepEqual(await s.uploads.commit("lib/c", u.id, d), { digest: d, size: 12_345 });
    assert.deepEqual(await s.blobs.stat("lib/c", d), { digest: d, size: 12_345 });
    assert.equal(await s.blobs.stat("lib/other", d), undefined);
    assert.equal(await s.uploads.get("lib/c", u.id), undefined);
    assert.equal(await s.uploads.read("lib/c", u.id), undefined);
    assert.equal(await s.uploads.commit("lib/c", u.id, d), undefined, "second commit");
    assert.equal(await s.uploads.cancel("lib/c", u.id), false);
    assert.equal(await s.uploads.append("lib/c", u.id, 12_345, chunksOf(bytes)), undefined);
  });

  test("uploads: commit with the verified size refuses a session holding other bytes", async () => {
    const s = await fresh();
    const bytes = bytesOf(6000, 21);
    const u = await s.uploads.create("v", { algorithm: "sha256" });
    await s.uploads.append("v", u.id, 0, chunksOf(bytes.subarray(0, 4000)));
    // The handler verified 4000 bytes; another process appended 2000 more meanwhile.
    const verified = digestOf(bytes.subarray(0, 4000));
    await s.uploads.append("v", u.id, 4000, chunksOf(bytes.subarray(4000)));
    await assert.rejects(
      s.uploads.commit("v", u.id, verified, 4000),
      (error: unknown) => error instanceof UploadOffsetError && error.size === 6000,
    );
    assert.equal(await s.blobs.stat("v", verified), undefined, "nothing committed");
    assert.equal(await s.blobs.link("v", verified), undefined, "nothing stored");
    assert.equal((await s.uploads.get("v", u.id))?.size, 6000, "the session is intact");
    const whole = digestOf(bytes);
    assert.deepEqual(await s.uploads.commit("v", u.id, whole, 6000), { digest: whole, size: 6000 });
    assertBytes(await readAll((await s.blobs.read("v", whole))!), bytes);
  });

  test("uploads: sha512 sessions commit under a sha512 digest", async () => {
    const s = await fresh();
    const bytes = bytesOf(3000, 15);
    const u = await s.uploads.create("a", { algorithm: "sha512" });
    await s.uploads.append("a", u.id, 0, chunksOf(bytes));
    const d = digestOf(bytes, "sha512");
    assert.deepEqual(await s.uploads.commit("a", u.id, d), { digest: d, size: 3000 });
    assertBytes(await readAll((await s.blobs.read("a", d))!), bytes);
  });

  test("uploads: committing content that is already stored keeps one correct copy", async () => {
    const s = await fresh();
    const bytes = bytesOf(9000, 16);
    const d = await pushBlob(s, "a", bytes);
    const u = await s.uploads.create("b", { algorithm: "sha256" });
    await s.uploads.append("b", u.id, 0, chunksOf(bytes.subarray(0, 4000)));
    await s.uploads.append("b", u.id, 4000, chunksOf(bytes.subarray(4000)));
    assert.deepEqual(await s.uploads.commit("b", u.id, d), { digest: d, size: 9000 });
    assertBytes(await readAll((await s.blobs.read("a", d))!), bytes);
    assertBytes(await readAll((await s.blobs.read("b", d))!), bytes);
  });

  test("uploads: cancel drops the session and is idempotent", async () => {
    const s = await fresh();
    const bytes = bytesOf(500, 17);
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    await s.uploads.append("a", u.id, 0, chunksOf(bytes));
    assert.equal(await s.uploads.cancel("a", u.id), true);
    assert.equal(await s.uploads.cancel("a", u.id), false);
    assert.equal(await s.uploads.get("a", u.id), undefined);
    assert.equal(await s.uploads.commit("a", u.id, digestOf(bytes)), undefined);
    assert.equal(await s.blobs.stat("a", digestOf(bytes)), undefined);
    assert.equal(await s.blobs.link("a", digestOf(bytes)), undefined, "nothing was stored");
  });

  test("uploads: purge removes sessions created before the cut-off", async () => {
    const s = await fresh();
    assert.ok(s.uploads.purge, "adapters of this project implement purge");
    const old = await s.uploads.create("a", { algorithm: "sha256" });
    await s.uploads.append("a", old.id, 0, chunksOf(bytesOf(100)));
    await new Promise((r) => setTimeout(r, 15));
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 15));
    const young = await s.uploads.create("b", { algorithm: "sha256" });
    assert.equal(await s.uploads.purge(old.createdAt - 1), 0);
    assert.equal(await s.uploads.purge(cut), 1);
    assert.equal(await s.uploads.get("a", old.id), undefined);
    assert.equal(await s.uploads.cancel("a", old.id), false);
    assert.deepEqual(await s.uploads.get("b", young.id), young);
    assert.equal(await s.uploads.purge(cut), 0);
    assert.equal(await s.uploads.purge(Date.now() + 1000), 1);
    assert.equal(await s.uploads.get("b", young.id), undefined);
  });

  test("uploads: sessions are independent", async () => {
    const s = await fresh();
    const x = bytesOf(3000, 18);
    const y = bytesOf(4000, 19);
    const ux = await s.uploads.create("a", { algorithm: "sha256" });
    const uy = await s.uploads.create("a", { algorithm: "sha256" });
    await Promise.all([
      s.uploads.append("a", ux.id, 0, chunksOf(x)),
      s.uploads.append("a", uy.id, 0, chunksOf(y)),
    ]);
    assertBytes(await readAll((await s.uploads.read("a", ux.id))!), x);
    assertBytes(await readAll((await s.uploads.read("a", uy.id))!), y);
    await s.uploads.cancel("a", ux.id);
    assert.equal((await s.uploads.get("a", uy.id))?.size, 4000);
  });

  // ---- manifests and referrers ---------------------------------------------------------------

  test("manifests: absent manifests and empty referrers", async () => {
    const s = await fresh();
    const m = manifestOf({ a: 1 });
    assert.equal(await s.manifests.get("a", m.digest), undefined);
    assert.equal(await s.manifests.delete("a", m.digest), false);
    assert.deepEqual(await s.manifests.referrers("a", m.digest), []);
  });

  test("manifests: put and get exact bytes and media type, per repository", async () => {
    const s = await fresh();
    const m = manifestOf({ schemaVersion: 2, layers: [], note: "ü\n" });
    m.mediaType = "application/vnd.docker.distribution.manifest.v2+json";
    await s.manifests.put("lib/a", m);
    const got = await s.manifests.get("lib/a", m.digest);
    assert.ok(got);
    assert.equal(got.digest, m.digest);
    assert.equal(got.mediaType, m.mediaType);
    assert.deepEqual(got.bytes, m.bytes);
    assert.equal(got.subject, undefined);
    assert.equal(await s.manifests.get("lib/b", m.digest), undefined);
    assert.equal(await s.manifests.get("lib", m.digest), undefined);
    // Overwrite with identical bytes is fine.
    await s.manifests.put("lib/a", m);
    assert.deepEqual((await s.manifests.get("lib/a", m.digest))?.bytes, m.bytes);
  });

  test("manifests: bytes of every value survive (binary, large)", async () => {
    const s = await fresh();
    const bytes = bytesOf(4 * 1024 * 1024, 20);
    const record: ManifestRecord = {
      digest: digestOf(bytes),
      mediaType: "application/vnd.oci.image.index.v1+json",
      bytes,
    };
    await s.manifests.put("a", record);
    assertBytes((await s.manifests.get("a", record.digest))?.bytes, bytes);
  });

  test("manifests: referrers index by subject, per repository", async () => {
    const s = await fresh();
    const subject = manifestOf({ image: 1 });
    const r1 = manifestOf({ sig: 1 }, subject.digest, "application/a");
    const r2 = manifestOf({ sig: 2 }, subject.digest, "application/b");
    const other = manifestOf({ sig: 3 }, manifestOf({ image: 2 }).digest);
    // Referrers may be pushed before their subject.
    await s.manifests.put("a", r1);
    await s.manifests.put("a", subject);
    await s.manifests.put("a", r2);
    await s.manifests.put("a", other);
    const got = (await s.manifests.referrers("a", subject.digest)).sort(byDigest);
    assert.deepEqual(got, [r1.referrer!, r2.referrer!].sort(byDigest));
    assert.deepEqual(await s.manifests.referrers("b", subject.digest), []);
    assert.deepEqual(await s.manifests.referrers("a", r1.digest), []);
    const stored = await s.manifests.get("a", r1.digest);
    assert.equal(stored?.subject, subject.digest);
    assert.deepEqual(stored?.referrer, r1.referrer);
    // Re-putting the same referrer does not duplicate it.
    await s.manifests.put("a", r1);
    assert.equal((await s.manifests.referrers("a", subject.digest)).length, 2);
  });

  test("manifests: delete removes the manifest, its tags and its referrers entry", async () => {
    const s = await fresh();
    const subject = manifestOf({ image: 1 });
    const ref = manifestOf({ sig: 1 }, subject.digest);
    const keep = manifestOf({ image: 3 });
    await s.manifests.put("a", subject);
    await s.manifests.put("a", ref);
    await s.manifests.put("a", keep);
    await s.tags.set("a", "sig", ref.digest);
    await s.tags.set("a", "sig2", ref.digest);
    await s.tags.set("a", "keep", keep.digest);
    await s.manifests.put("b", ref);
    await s.tags.set("b", "sig", ref.digest);
    assert.equal(await s.manifests.delete("a", ref.digest), true);
    assert.equal(await s.manifests.delete("a", ref.digest), false);
    assert.equal(await s.manifests.get("a", ref.digest), undefined);
    assert.equal(await s.tags.get("a", "sig"), undefined);
    assert.equal(await s.tags.get("a", "sig2"), undefined);
    assert.equal(await s.tags.get("a", "keep"), keep.digest);
    assert.deepEqual(await s.manifests.referrers("a", subject.digest), []);
    assert.deepEqual((await s.tags.list("a", { limit: 10 }))?.items, ["keep"]);
    // Another repository is untouched.
    assert.deepEqual((await s.manifests.get("b", ref.digest))?.bytes, ref.bytes);
    assert.equal(await s.tags.get("b", "sig"), ref.digest);
    assert.equal((await s.manifests.referrers("b", subject.digest)).length, 1);
  });

  // ---- tags ----------------------------------------------------------------------------------

  test("tags: get, set, overwrite, delete", async () => {
    const s = await fresh();
    const m1 = manifestOf({ v: 1 });
    const m2 = manifestOf({ v: 2 });
    await s.manifests.put("a", m1);
    await s.manifests.put("a", m2);
    assert.equal(await s.tags.get("a", "latest"), undefined);
    assert.equal(await s.tags.delete("a", "latest"), false);
    assert.equal(await s.tags.set("a", "latest", m1.digest), true);
    assert.equal(await s.tags.get("a", "latest"), m1.digest);
    assert.equal(await s.tags.get("b", "latest"), undefined);
    assert.equal(await s.tags.set("a", "latest", m2.digest), true);
    assert.equal(await s.tags.get("a", "latest"), m2.digest);
    assert.equal(await s.tags.delete("a", "latest"), true);
    assert.equal(await s.tags.delete("a", "latest"), false);
    assert.equal(await s.tags.get("a", "latest"), undefined);
  });

  test("tags: case matters (Latest and latest are two tags)", async () => {
    const s = await fresh();
    const m1 = manifestOf({ v: 1 });
    const m2 = manifestOf({ v: 2 });
    await s.manifests.put("a", m1);
    await s.tags.set("a", "Latest", m1.digest);
    await s.tags.set("a", "latest", m2.digest);
    assert.equal(await s.tags.get("a", "Latest"), m1.digest);
    assert.equal(await s.tags.get("a", "latest"), m2.digest);
    assert.deepEqual((await s.tags.list("a", { limit: 10 }))?.items, ["Latest", "latest"]);
  });

  test("tags: compare-and-swap with an expected digest or null", async () => {
    const s = await fresh();
    const m1 = manifestOf({ v: 1 });
    const m2 = manifestOf({ v: 2 });
    const m3 = manifestOf({ v: 3 });
    assert.equal(await s.tags.set("a", "t", m1.digest, m2.digest), false, "absent ≠ m2");
    assert.equal(await s.tags.get("a", "t"), undefined);
    assert.equal(await s.tags.set("a", "t", m1.digest, null), true, "absent = null");
    assert.equal(await s.tags.set("a", "t", m2.digest, null), false, "exists ≠ null");
    assert.equal(await s.tags.get("a", "t"), m1.digest);
    assert.equal(await s.tags.set("a", "t", m3.digest, m2.digest), false);
    assert.equal(await s.tags.set("a", "t", m2.digest, m1.digest), true);
    assert.equal(await s.tags.get("a", "t"), m2.digest);
    assert.equal(await s.tags.set("a", "t", m3.digest), true, "no expectation: always set");
    assert.equal(await s.tags.get("a", "t"), m3.digest);
  });

  test("tags: concurrent compare-and-swap from null: exactly one wins", async () => {
    const s = await fresh();
    const digests = [1, 2, 3, 4, 5, 6].map((v) => manifestOf({ v }).digest);
    const results = await Promise.all(digests.map((d) => s.tags.set("a", "race", d, null)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await s.tags.get("a", "race"), digests[results.indexOf(true)]);
  });

  test("tags: concurrent plain sets all succeed and leave one of the values", async () => {
    const s = await fresh();
    const digests = [1, 2, 3, 4].map((v) => manifestOf({ v }).digest);
    const results = await Promise.all(digests.map((d) => s.tags.set("a", "same", d)));
    assert.deepEqual(results, [true, true, true, true]);
    assert.ok(digests.includes((await s.tags.get("a", "same"))!));
  });

  test("tags: list is undefined for unknown repositories (no manifest)", async () => {
    const s = await fresh();
    assert.equal(await s.tags.list("a", { limit: 10 }), undefined);
    await pushBlob(s, "a", bytesOf(10));
    assert.equal(await s.tags.list("a", { limit: 10 }), undefined, "blobs alone are no repository");
    const m = manifestOf({ v: 1 });
    await s.manifests.put("a", m);
    assert.deepEqual(await s.tags.list("a", { limit: 10 }), { items: [], more: false });
    assert.equal(await s.tags.list("a/b", { limit: 10 }), undefined);
  });

  test("tags: byte-order listing with after, limit and more", async () => {
    const s = await fresh();
    const m = manifestOf({ v: 1 });
    await s.manifests.put("a", m);
    const names = ["b", "a", "_x", "Z", "1.0", "1.0-rc", "10", "2", "a-b", "a.b", "a_b", "latest"];
    for (const t of names) await s.tags.set("a", t, m.digest);
    const sorted = [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(sorted.slice(0, 4), ["1.0", "1.0-rc", "10", "2"]);
    assert.deepEqual(await s.tags.list("a", { limit: 100 }), { items: sorted, more: false });
    assert.deepEqual(await s.tags.list("a", { limit: sorted.length }), {
      items: sorted,
      more: false,
    });
    assert.deepEqual(await s.tags.list("a", { limit: 3 }), {
      items: sorted.slice(0, 3),
      more: true,
    });
    assert.deepEqual(await s.tags.list("a", { after: sorted[2], limit: 3 }), {
      items: sorted.slice(3, 6),
      more: true,
    });
    assert.deepEqual(await s.tags.list("a", { after: sorted.at(-2), limit: 3 }), {
      items: sorted.slice(-1),
      more: false,
    });
    assert.deepEqual(await s.tags.list("a", { after: sorted.at(-1), limit: 3 }), {
      items: [],
      more: false,
    });
    assert.deepEqual(await s.tags.list("a", { after: "zzz", limit: 3 }), {
      items: [],
      more: false,
    });
    assert.deepEqual(await s.tags.list("a", { after: "0", limit: 1 }), {
      items: ["1.0"],
      more: true,
    });
    assert.deepEqual(await s.tags.list("a", { after: "1.0", limit: 1 }), {
      items: ["1.0-rc"],
      more: true,
    }, "after is strict; need not be a tag");
    const zero = await s.tags.list("a", { limit: 0 });
    assert.deepEqual(zero?.items, []);
    // Paging through everything with limit 5 visits each tag once.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await s.tags.list("a", { after, limit: 5 });
      assert.ok(page);
      seen.push(...page.items);
      if (!page.more) break;
      after = page.items.at(-1);
    }
    assert.deepEqual(seen, sorted);
  });

  // ---- repositories --------------------------------------------------------------------------

  test("repositories: those holding a manifest, in byte order, paged", async () => {
    const s = await fresh();
    assert.deepEqual(await s.repositories({ limit: 10 }), { items: [], more: false });
    const m = manifestOf({ v: 1 });
    await pushBlob(s, "blobonly", bytesOf(10));
    const u = await s.uploads.create("uploadonly", { algorithm: "sha256" });
    await s.uploads.append("uploadonly", u.id, 0, chunksOf(bytesOf(5)));
    const repos = ["b", "a/b/c", "a", "a-b", "a/b", "a.b", "z9", "a0"];
    for (const r of repos) await s.manifests.put(r, m);
    const sorted = [...repos].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(await s.repositories({ limit: 100 }), { items: sorted, more: false });
    assert.deepEqual(await s.repositories({ limit: 2 }), { items: sorted.slice(0, 2), more: true });
    assert.deepEqual(await s.repositories({ after: "a", limit: 3 }), {
      items: sorted.slice(1, 4),
      more: true,
    });
    assert.deepEqual(await s.repositories({ after: "z9", limit: 3 }), { items: [], more: false });
    assert.deepEqual((await s.repositories({ limit: 0 })).items, []);
    // A repository whose last manifest is deleted is no longer listed.
    assert.equal(await s.manifests.delete("a/b", m.digest), true);
    assert.deepEqual(
      (await s.repositories({ limit: 100 })).items,
      sorted.filter((r) => r !== "a/b"),
    );
    assert.equal(await s.tags.list("a/b", { limit: 10 }), undefined);
    assert.deepEqual(await s.tags.list("a/b/c", { limit: 10 }), { items: [], more: false });
  });

  // ---- metadata after this store's own changes (no stale cache) ------------------------------

  test("tags: a listing sees this store's own changes at once, also between pages", async () => {
    const s = await fresh();
    const m = manifestOf({ v: 1 });
    await s.manifests.put("a", m);
    const names = Array.from({ length: 40 }, (_, i) => `t${String(i).padStart(2, "0")}`);
    for (const t of names) await s.tags.set("a", t, m.digest);
    const first = await s.tags.list("a", { limit: 10 });
    assert.deepEqual(first, { items: names.slice(0, 10), more: true });
    // Changes after the first page: one added ahead, one removed ahead, one added behind.
    assert.equal(await s.tags.set("a", "t15b", m.digest), true);
    assert.equal(await s.tags.delete("a", "t20"), true);
    assert.equal(await s.tags.set("a", "a0", m.digest), true);
    const rest: string[] = [];
    let after = first?.items.at(-1);
    for (;;) {
      const page = await s.tags.list("a", { after, limit: 10 });
      assert.ok(page);
      rest.push(...page.items);
      if (!page.more) break;
      after = page.items.at(-1);
    }
    const expected = [...names.slice(10), "t15b"].filter((t) => t !== "t20").sort();
    assert.deepEqual(rest, expected);
    assert.deepEqual((await s.tags.list("a", { limit: 1 }))?.items, ["a0"]);
    // Removing every tag empties the listing at once.
    for (const t of [...names, "t15b", "a0"]) await s.tags.delete("a", t);
    assert.deepEqual(await s.tags.list("a", { limit: 100 }), { items: [], more: false });
  });

  test("tags: paging with `after` between, before and beyond the stored tags", async () => {
    const s = await fresh();
    const m = manifestOf({ v: 1 });
    await s.manifests.put("a", m);
    const names = Array.from({ length: 60 }, (_, i) => `v${i * 2}`);
    for (const t of names) await s.tags.set("a", t, m.digest);
    const sorted = [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    for (const [after, from] of [["v1", sorted.indexOf("v10")], ["v9", sorted.indexOf("v90")]]) {
      // `after` need not be a stored tag: the page starts at the first tag after it.
      assert.deepEqual(await s.tags.list("a", { after: after as string, limit: 3 }), {
        items: sorted.slice(from as number, (from as number) + 3),
        more: true,
      });
    }
    assert.deepEqual(await s.tags.list("a", { after: "A", limit: 2 }), {
      items: sorted.slice(0, 2),
      more: true,
    });
    assert.deepEqual(await s.tags.list("a", { after: "w", limit: 2 }), { items: [], more: false });
    // Every page size walks the whole listing once, in order.
    for (const limit of [1, 7, 59, 60, 61]) {
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await s.tags.list("a", { after, limit });
        assert.ok(page);
        assert.ok(page.items.length <= limit);
        seen.push(...page.items);
        if (!page.more) break;
        after = page.items.at(-1);
      }
      assert.deepEqual(seen, sorted, `limit ${limit}`);
    }
  });

  test("tags: a moved tag and a deleted manifest are seen at once after being read", async () => {
    const s = await fresh();
    const m1 = manifestOf({ v: 1 });
    const m2 = manifestOf({ v: 2 });
    await s.manifests.put("a", m1);
    await s.manifests.put("a", m2);
    await s.tags.set("a", "t", m1.digest);
    await s.tags.set("a", "other", m1.digest);
    assert.equal(await s.tags.get("a", "t"), m1.digest);
    assert.deepEqual((await s.manifests.get("a", m1.digest))?.bytes, m1.bytes);
    assert.deepEqual((await s.tags.list("a", { limit: 10 }))?.items, ["other", "t"]);
    await s.tags.set("a", "t", m2.digest);
    assert.equal(await s.tags.get("a", "t"), m2.digest);
    assert.equal(await s.manifests.delete("a", m1.digest), true);
    assert.equal(await s.manifests.get("a", m1.digest), undefined);
    assert.equal(await s.tags.get("a", "other"), undefined, "the deleted manifest's tag is gone");
    assert.equal(await s.tags.get("a", "t"), m2.digest, "a tag moved away stays");
    assert.deepEqual((await s.tags.list("a", { limit: 10 }))?.items, ["t"]);
    // The last manifest gone: the repository is unknown at once, and known again after a put.
    assert.equal(await s.manifests.delete("a", m2.digest), true);
    assert.equal(await s.tags.list("a", { limit: 10 }), undefined);
    await s.manifests.put("a", m1);
    assert.deepEqual(await s.tags.list("a", { limit: 10 }), { items: [], more: false });
    assert.deepEqual((await s.manifests.get("a", m1.digest))?.bytes, m1.bytes);
  });

  test.run();
}
