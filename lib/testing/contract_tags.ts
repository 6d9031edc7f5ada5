/**
 * The storage contract suite: tags and the repository catalog.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  bytesOf,
  chunksOf,
  type ContractDefiner,
  manifestOf,
  pushBlob,
} from "./contract_support.ts";

/** Register the contract tests of tags and the repository catalog. */
export function tagContract(t: ContractDefiner): void {
  // ---- tags

  t.test("tags: get, set, overwrite, delete", ["push", "delete"], async (fresh) => {
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

  t.test("tags: case matters (Latest and latest are two tags)", ["push"], async (fresh) => {
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

  t.test("tags: compare-and-swap with an expected digest or null", ["push"], async (fresh) => {
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

  t.test(
    "tags: concurrent compare-and-swap from null: exactly one wins",
    ["push"],
    async (fresh) => {
      const s = await fresh();
      const digests = [1, 2, 3, 4, 5, 6].map((v) => manifestOf({ v }).digest);
      const results = await Promise.all(digests.map((d) => s.tags.set("a", "race", d, null)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await s.tags.get("a", "race"), digests[results.indexOf(true)]);
    },
  );

  t.test(
    "tags: concurrent plain sets all succeed and leave one of the values",
    ["push"],
    async (fresh) => {
      const s = await fresh();
      const digests = [1, 2, 3, 4].map((v) => manifestOf({ v }).digest);
      const results = await Promise.all(digests.map((d) => s.tags.set("a", "same", d)));
      assert.deepEqual(results, [true, true, true, true]);
      assert.ok(digests.includes((await s.tags.get("a", "same"))!));
    },
  );

  t.test(
    "tags: list is undefined for unknown repositories (no manifest)",
    ["push"],
    async (fresh) => {
      const s = await fresh();
      assert.equal(await s.tags.list("a", { limit: 10 }), undefined);
      await pushBlob(s, "a", bytesOf(10));
      assert.equal(
        await s.tags.list("a", { limit: 10 }),
        undefined,
        "blobs alone are no repository",
      );
      const m = manifestOf({ v: 1 });
      await s.manifests.put("a", m);
      assert.deepEqual(await s.tags.list("a", { limit: 10 }), { items: [], more: false });
      assert.equal(await s.tags.list("a/b", { limit: 10 }), undefined);
    },
  );

  t.test("tags: byte-order listing with after, limit and more", ["push"], async (fresh) => {
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

  // ---- repositories

  t.test(
    "repositories: those holding a manifest, in byte order, paged",
    ["push", "catalog"],
    async (fresh) => {
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
      assert.deepEqual(await s.repositories({ limit: 2 }), {
        items: sorted.slice(0, 2),
        more: true,
      });
      assert.deepEqual(await s.repositories({ after: "a", limit: 3 }), {
        items: sorted.slice(1, 4),
        more: true,
      });
      assert.deepEqual(await s.repositories({ after: "z9", limit: 3 }), { items: [], more: false });
      assert.deepEqual((await s.repositories({ limit: 0 })).items, []);
      // A repository whose last manifest is deleted is no longer listed.
      if (!t.has("delete")) return;
      assert.equal(await s.manifests.delete("a/b", m.digest), true);
      assert.deepEqual(
        (await s.repositories({ limit: 100 })).items,
        sorted.filter((r) => r !== "a/b"),
      );
      assert.equal(await s.tags.list("a/b", { limit: 10 }), undefined);
      assert.deepEqual(await s.tags.list("a/b/c", { limit: 10 }), { items: [], more: false });
    },
  );

  // ---- metadata after this store's own changes (no stale cache)

  t.test("tags: a listing sees this store's own changes at once, also between pages", [
    "push",
    "delete",
  ], async (fresh) => {
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

  t.test(
    "tags: paging with `after` between, before and beyond the stored tags",
    ["push"],
    async (fresh) => {
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
      assert.deepEqual(await s.tags.list("a", { after: "w", limit: 2 }), {
        items: [],
        more: false,
      });
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
    },
  );

  t.test("tags: a moved tag and a deleted manifest are seen at once after being read", [
    "push",
    "delete",
  ], async (fresh) => {
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
}
