/**
 * The storage contract suite: manifests and referrers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ManifestRecord } from "../storage/types.ts";
import { digestOf } from "./content.ts";
import { MEDIA_TYPES } from "./media_types.ts";
import {
  assertBytes,
  byDigest,
  bytesOf,
  type ContractDefiner,
  manifestOf,
} from "./contract_support.ts";

/** Register the contract tests of manifests and referrers. */
export function manifestContract(t: ContractDefiner): void {
  // ---- manifests and referrers

  t.test("manifests: absent manifests and empty referrers", [], async (fresh) => {
    const s = await fresh();
    const m = manifestOf({ a: 1 });
    assert.equal(await s.manifests.get("a", m.digest), undefined);
    if (t.has("delete")) assert.equal(await s.manifests.delete("a", m.digest), false);
    if (t.has("referrers")) assert.deepEqual(await s.manifests.referrers("a", m.digest), []);
  });

  t.test(
    "manifests: put and get exact bytes and media type, per repository",
    ["push"],
    async (fresh) => {
      const s = await fresh();
      const m = manifestOf({ schemaVersion: 2, layers: [], note: "ü\n" });
      m.mediaType = MEDIA_TYPES.dockerManifest;
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
    },
  );

  t.test("manifests: bytes of every value survive (binary, large)", ["push"], async (fresh) => {
    const s = await fresh();
    const bytes = bytesOf(4 * 1024 * 1024, 20);
    const record: ManifestRecord = {
      digest: digestOf(bytes),
      mediaType: MEDIA_TYPES.index,
      bytes,
    };
    await s.manifests.put("a", record);
    assertBytes((await s.manifests.get("a", record.digest))?.bytes, bytes);
  });

  t.test(
    "manifests: referrers index by subject, per repository",
    ["push", "referrers"],
    async (fresh) => {
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
    },
  );

  t.test("manifests: delete removes the manifest, its tags and its referrers entry", [
    "push",
    "delete",
  ], async (fresh) => {
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
    if (t.has("referrers")) assert.deepEqual(await s.manifests.referrers("a", subject.digest), []);
    assert.deepEqual((await s.tags.list("a", { limit: 10 }))?.items, ["keep"]);
    // Another repository is untouched.
    assert.deepEqual((await s.manifests.get("b", ref.digest))?.bytes, ref.bytes);
    assert.equal(await s.tags.get("b", "sig"), ref.digest);
    if (t.has("referrers")) {
      assert.equal((await s.manifests.referrers("b", subject.digest)).length, 1);
    }
  });
}
