/**
 * The storage contract suite: blobs (stat, read, ranges, link, unlink).
 *
 * @module
 */
import assert from "node:assert/strict";
import { digestOf } from "./content.ts";
import {
  assertBytes,
  bytesOf,
  chunksOf,
  type ContractDefiner,
  pushBlob,
  readAll,
} from "./contract_support.ts";

/** Register the contract tests of blobs (stat, read, ranges, link, unlink). */
export function blobContract(t: ContractDefiner): void {
  // ---- blobs

  t.test("blobs: absence is undefined or false, not an exception", [], async (fresh) => {
    const s = await fresh();
    const d = digestOf(bytesOf(10));
    assert.equal(await s.blobs.stat("a", d), undefined);
    assert.equal(await s.blobs.read("a", d), undefined);
    assert.equal(await s.blobs.read("a", d, { start: 0, end: 1 }), undefined);
    if (t.has("mount")) {
      assert.equal(await s.blobs.link("a", d), undefined);
      assert.equal(await s.blobs.stat("a", d), undefined, "a failed link links nothing");
    }
    if (t.has("delete")) assert.equal(await s.blobs.unlink("a", d), false);
  });

  t.test("blobs: committed blob stats and reads back exactly", ["push"], async (fresh) => {
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

  t.test(
    "blobs: ranges (first byte, last byte, middle, whole, across appends)",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test("blobs: a large blob ranged read returns only the range", ["push"], async (fresh) => {
    const s = await fresh();
    const bytes = bytesOf(3 * 1024 * 1024 + 17, 4);
    const d = await pushBlob(s, "big", bytes, 3);
    const start = 1024 * 1024 - 5;
    const end = 2 * 1024 * 1024 + 5;
    const got = await readAll((await s.blobs.read("big", d, { start, end }))!);
    assert.equal(got.byteLength, end - start + 1);
    assert.deepEqual(got, bytes.subarray(start, end + 1));
  });

  t.test("blobs: the empty blob", ["push"], async (fresh) => {
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
    if (t.has("delete")) {
      assert.equal(await s.blobs.unlink("e", d), true);
      assert.equal(await s.blobs.stat("e", d), undefined);
    }
    assert.deepEqual(await s.blobs.stat("e2", d), { digest: d, size: 0 });
  });

  t.test("blobs: visible only in repositories that link them", ["push"], async (fresh) => {
    const s = await fresh();
    const bytes = bytesOf(1000, 5);
    const d = await pushBlob(s, "one", bytes);
    assert.equal(await s.blobs.stat("two", d), undefined);
    assert.equal(await s.blobs.read("two", d), undefined);
    assert.equal(await s.blobs.stat("one/two", d), undefined, "no prefix visibility");
    if (t.has("delete")) assert.equal(await s.blobs.unlink("two", d), false);
  });

  t.test("blobs: link mounts existing content; unlink removes only that link", [
    "push",
    "mount",
    "delete",
  ], async (fresh) => {
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

  t.test(
    "blobs: the same content pushed twice is stored once and stays correct",
    ["push"],
    async (fresh) => {
      const s = await fresh();
      const bytes = bytesOf(70_000, 7);
      const d1 = await pushBlob(s, "a", bytes, 2);
      const d2 = await pushBlob(s, "b", bytes, 5);
      assert.equal(d1, d2);
      assertBytes(await readAll((await s.blobs.read("a", d1))!), bytes);
      assertBytes(await readAll((await s.blobs.read("b", d1))!), bytes);
      if (t.has("delete")) {
        assert.equal(await s.blobs.unlink("a", d1), true);
        assertBytes(await readAll((await s.blobs.read("b", d1))!), bytes);
      }
    },
  );

  t.test(
    "blobs: mutating the chunks a read hands out does not change what is stored",
    ["push"],
    async (fresh) => {
      // (Chunks given to append belong to the adapter from then on, as with a ReadableStream: the
      // caller does not reuse them, so this suite does not mutate them.)
      const s = await fresh();
      const bytes = bytesOf(40_000, 8);
      const upload = await s.uploads.create("m", { algorithm: "sha256" });
      await s.uploads.append(
        "m",
        upload.id,
        0,
        chunksOf(bytes.subarray(0, 10), bytes.subarray(10)),
      );
      const d = digestOf(bytes);
      await s.uploads.commit("m", upload.id, d);
      const body = (await s.blobs.read("m", d))!;
      const stream = body instanceof Blob ? body.stream() : body;
      for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunk.fill(1);
      assertBytes(await readAll((await s.blobs.read("m", d))!), bytes);
    },
  );
}
