/**
 * The storage contract suite: what garbage collection needs (capability gc): enumeration with
 * times, touch, conditional unlink and removal, the lease.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CollectableStorage, FullStorage, StoredEntry } from "../storage/types.ts";
import { bytesOf, type ContractDefiner, manifestOf, pushBlob } from "./contract_support.ts";

/** Wait `ms` (timestamps on disk have at most millisecond resolution, some coarser). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The gc members, present when the test runs. */
function gc(s: FullStorage): CollectableStorage {
  return s as CollectableStorage;
}

function timeOf(entries: StoredEntry[], digest: string): number | undefined {
  return entries.find((e) => e.digest === digest)?.modifiedAt;
}

/** Register the contract tests of the gc capability. */
export function gcContract(t: ContractDefiner): void {
  const needs = ["push", "mount", "delete", "catalog", "gc"] as const;

  t.test("gc: enumerates manifests, links, owners and content with times", needs, async (fresh) => {
    const s = gc(await fresh());
    const before = Date.now() - 1000;
    const digest = await pushBlob(s, "lib/a", bytesOf(300, 7));
    assert.ok(await s.blobs.link("b", digest));
    const m = manifestOf({ schemaVersion: 2, layers: [{ digest }] });
    await s.manifests.put("lib/a", m);
    const manifests = await all(s.manifests.list("lib/a"));
    assert.deepEqual(manifests.map((e) => e.digest), [m.digest]);
    assert.ok(manifests[0].modifiedAt >= before && manifests[0].modifiedAt <= Date.now() + 1000);
    assert.deepEqual(await all(s.manifests.list("b")), []);
    assert.deepEqual(await all(s.manifests.list("none")), []);
    for (const repo of ["lib/a", "b"]) {
      const links = await all(s.blobs.links(repo));
      assert.deepEqual(links.map((e) => e.digest), [digest]);
      assert.ok(links[0].modifiedAt >= before);
    }
    assert.deepEqual(await all(s.blobs.links("none")), []);
    assert.deepEqual((await all(s.blobs.owners())).sort(), ["b", "lib/a"]);
    const blobs = await all(s.blobs.list());
    assert.deepEqual(blobs.map(({ digest, size }) => ({ digest, size })), [{ digest, size: 300 }]);
    assert.ok(blobs[0].modifiedAt >= before);
  });

  t.test("gc: touch refreshes a link and its content; unlink with before", needs, async (fresh) => {
    const s = gc(await fresh());
    const digest = await pushBlob(s, "a", bytesOf(100, 3));
    assert.equal(await s.blobs.touch("other", digest), false, "no link, no touch");
    const first = timeOf(await all(s.blobs.links("a")), digest)!;
    await pause(30);
    const middle = Date.now();
    await pause(30);
    // Older than `middle`: a conditional unlink at `middle` would take it, but a touch came first.
    assert.equal(await s.blobs.touch("a", digest), true);
    const touched = timeOf(await all(s.blobs.links("a")), digest)!;
    assert.ok(touched > first && touched >= middle, `link time ${first} → ${touched}`);
    assert.ok(timeOf(await all(s.blobs.list()), digest)! >= middle, "content touched too");
    assert.equal(await s.blobs.unlink("a", digest, middle), false, "touched since: stays");
    assert.ok(await s.blobs.stat("a", digest), "still linked and readable");
    await pause(30);
    assert.equal(await s.blobs.unlink("a", digest, Date.now()), true);
    assert.equal(await s.blobs.stat("a", digest), undefined);
    assert.equal(await s.blobs.touch("a", digest), false, "a touch after the unlink fails");
    assert.equal(await s.blobs.unlink("a", digest, Date.now()), false);
    assert.deepEqual(await all(s.blobs.links("a")), []);
  });

  t.test("gc: remove deletes old content only; link and commit touch it", needs, async (fresh) => {
    const s = gc(await fresh());
    const bytes = bytesOf(200, 11);
    const digest = await pushBlob(s, "a", bytes);
    await pause(30);
    const middle = Date.now();
    await pause(30);
    assert.ok(await s.blobs.link("b", digest), "mount touches the content");
    assert.equal(await s.blobs.remove(digest, middle), false, "touched since: stays");
    assert.ok(await s.blobs.unlink("a", digest));
    assert.ok(await s.blobs.unlink("b", digest));
    await pause(30);
    const later = Date.now();
    await pause(30);
    // Committing the same content again touches it.
    assert.equal(await pushBlob(s, "c", bytes), digest);
    assert.equal(await s.blobs.remove(digest, later), false);
    assert.ok(await s.blobs.unlink("c", digest));
    await pause(30);
    assert.equal(await s.blobs.remove(digest, Date.now()), true);
    assert.equal(await s.blobs.remove(digest, Date.now()), false, "already gone");
    assert.deepEqual(await all(s.blobs.list()), []);
    assert.equal(await s.blobs.link("d", digest), undefined, "no content to mount");
    // Content can be stored again after removal.
    assert.equal(await pushBlob(s, "e", bytes), digest);
    assert.ok(await s.blobs.stat("e", digest));
  });

  t.test("gc: a lease has one holder until released or expired", needs, async (fresh) => {
    const s = gc(await fresh());
    const first = await s.blobs.lease("gc", 10_000);
    assert.ok(first);
    assert.ok(first.expiresAt > Date.now());
    assert.equal(await s.blobs.lease("gc", 10_000), undefined, "held");
    const other = await s.blobs.lease("other", 10_000);
    assert.ok(other, "names are independent");
    assert.equal(await first.renew(10_000), true);
    await first.release();
    const second = await s.blobs.lease("gc", 60);
    assert.ok(second, "released: free again");
    await pause(120);
    const third = await s.blobs.lease("gc", 10_000);
    assert.ok(third, "expired: free again");
    assert.equal(await second.renew(10_000), false, "an expired lease taken over cannot renew");
    await second.release(); // does not free the new holder's lease
    assert.equal(await s.blobs.lease("gc", 10_000), undefined);
    await third.release();
    await other.release();
  });
}
