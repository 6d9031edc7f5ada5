/**
 * The storage contract suite: upload sessions (create, append, read, commit, cancel, purge).
 *
 * @module
 */
import assert from "node:assert/strict";
import { UploadOffsetError } from "../storage/types.ts";
import { digestOf } from "./content.ts";
import {
  assertBytes,
  bytesOf,
  chunksOf,
  type ContractDefiner,
  gate,
  pushBlob,
  readAll,
} from "./contract_support.ts";

/** Register the contract tests of upload sessions (create, append, read, commit, cancel, purge). */
export function uploadContract(t: ContractDefiner): void {
  // ---- uploads

  t.test(
    "uploads: create answers a fresh session; get finds it only in its repository",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test("uploads: unknown sessions answer undefined/false everywhere", ["push"], async (fresh) => {
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

  t.test(
    "uploads: appends accumulate; read returns the bytes received",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test(
    "uploads: a wrong offset throws UploadOffsetError with the actual size",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test(
    "uploads: an append whose data throws mid-way appends nothing",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test("uploads: two concurrent appends at the same offset: one wins, one UploadOffsetError", [
    "push",
  ], async (fresh) => {
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

  t.test(
    "uploads: an in-flight append makes a second one at its offset fail at once",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test(
    "uploads: a session cancelled during an append: the append answers undefined",
    ["push"],
    async (fresh) => {
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
      if (t.has("mount")) assert.equal(await s.blobs.link("a", digestOf(bytes)), undefined);
    },
  );

  t.test(
    "uploads: commit links into the repository and ends the session",
    ["push"],
    async (fresh) => {
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
    },
  );

  t.test(
    "uploads: commit with the verified size refuses a session holding other bytes",
    ["push"],
    async (fresh) => {
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
      if (t.has("mount")) {
        assert.equal(await s.blobs.link("v", verified), undefined, "nothing stored");
      }
      assert.equal((await s.uploads.get("v", u.id))?.size, 6000, "the session is intact");
      const whole = digestOf(bytes);
      assert.deepEqual(await s.uploads.commit("v", u.id, whole, 6000), {
        digest: whole,
        size: 6000,
      });
      assertBytes(await readAll((await s.blobs.read("v", whole))!), bytes);
    },
  );

  t.test("uploads: sha512 sessions commit under a sha512 digest", ["push"], async (fresh) => {
    const s = await fresh();
    const bytes = bytesOf(3000, 15);
    const u = await s.uploads.create("a", { algorithm: "sha512" });
    await s.uploads.append("a", u.id, 0, chunksOf(bytes));
    const d = digestOf(bytes, "sha512");
    assert.deepEqual(await s.uploads.commit("a", u.id, d), { digest: d, size: 3000 });
    assertBytes(await readAll((await s.blobs.read("a", d))!), bytes);
  });

  t.test(
    "uploads: committing content that is already stored keeps one correct copy",
    ["push"],
    async (fresh) => {
      const s = await fresh();
      const bytes = bytesOf(9000, 16);
      const d = await pushBlob(s, "a", bytes);
      const u = await s.uploads.create("b", { algorithm: "sha256" });
      await s.uploads.append("b", u.id, 0, chunksOf(bytes.subarray(0, 4000)));
      await s.uploads.append("b", u.id, 4000, chunksOf(bytes.subarray(4000)));
      assert.deepEqual(await s.uploads.commit("b", u.id, d), { digest: d, size: 9000 });
      assertBytes(await readAll((await s.blobs.read("a", d))!), bytes);
      assertBytes(await readAll((await s.blobs.read("b", d))!), bytes);
    },
  );

  t.test("uploads: cancel drops the session and is idempotent", ["push"], async (fresh) => {
    const s = await fresh();
    const bytes = bytesOf(500, 17);
    const u = await s.uploads.create("a", { algorithm: "sha256" });
    await s.uploads.append("a", u.id, 0, chunksOf(bytes));
    assert.equal(await s.uploads.cancel("a", u.id), true);
    assert.equal(await s.uploads.cancel("a", u.id), false);
    assert.equal(await s.uploads.get("a", u.id), undefined);
    assert.equal(await s.uploads.commit("a", u.id, digestOf(bytes)), undefined);
    assert.equal(await s.blobs.stat("a", digestOf(bytes)), undefined);
    if (t.has("mount")) {
      assert.equal(await s.blobs.link("a", digestOf(bytes)), undefined, "nothing was stored");
    }
  });

  t.test(
    "uploads: purge removes sessions created before the cut-off",
    ["push", "purge"],
    async (fresh) => {
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
    },
  );

  t.test("uploads: sessions are independent", ["push"], async (fresh) => {
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
}
