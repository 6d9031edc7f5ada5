/**
 * r2Storage and the Worker entry in a real workerd (Miniflare's, with its local R2 simulation),
 * started from this test process:
 *
 * - the storage contract suite against `r2Storage` running inside workerd: every call goes to a
 *   test Worker (support/r2_rpc_worker.ts) that runs the adapter over its R2 binding;
 * - the HTTP protocol suite against the registry served by that Worker (made by the Worker
 *   entry's `createWorker`); the few protocol tests that build their own registry around a
 *   wrapped storage run the handler here, the adapter still in workerd;
 * - the Worker entry itself (lib/workers/worker.ts), bundled as wrangler would: what the bundle
 *   holds, a push and pull through it, its binding configuration;
 * - what only R2 has: appends of several parts, bounded part sizes, a session continued through
 *   another Worker instance.
 *
 * Every storage gets a fresh key prefix in the one bucket.
 *
 * @module
 */
import assert from "node:assert/strict";
import { suite } from "uvu";
import { createRegistry, type Registry, type RegistryOptions } from "../lib/registry.ts";
import type { FullStorage, Storage } from "../lib/storage/types.ts";
import { digestOf } from "../lib/testing/content.ts";
import { bytesOf, chunksOf, readAll } from "../lib/testing/contract_support.ts";
import { storageContract } from "../lib/testing/storage_contract.ts";
import { protocolSuite } from "./protocol/mod.ts";
import { dispatcher, forward, remoteR2Storage } from "./support/r2_remote.ts";
import { bundleWorker, startWorkerd } from "./support/workerd.ts";
import type { Miniflare } from "miniflare";

const MiB = 1024 * 1024;
const rpc = await bundleWorker("tests/support/r2_rpc_worker.ts");
const mf = await startWorkerd({ code: rpc.code, binding: "BUCKET", instances: 2 });
const dispatch = dispatcher(mf);
let count = 0;
const prefixes = new WeakMap<Storage, string>();

/** A fresh, empty storage: r2Storage under a new prefix, inside workerd. */
function freshStorage(): FullStorage {
  const prefix = `t${Date.now().toString(36)}-${count++}`;
  const storage = remoteR2Storage(dispatch, prefix);
  prefixes.set(storage, prefix);
  return storage;
}

/**
 * The registry the Worker serves over `options.storage`'s prefix (its other options as JSON);
 * a storage wrapped by a test (not one of ours) gets a registry in this process.
 */
function workerRegistry(options: RegistryOptions): Registry {
  const storage = options.storage!;
  const prefix = prefixes.get(storage);
  if (prefix === undefined) return createRegistry(options);
  const { storage: _, logger: __, ...rest } = options;
  const headers = { "x-test-prefix": prefix, "x-test-options": JSON.stringify(rest) };
  return { storage, fetch: forward(dispatch, headers) };
}

const contract = suite("r2 storage contract (in workerd)");
storageContract("r2", freshStorage, { test: contract, skip: ["gc"] });
contract.run();

protocolSuite("r2 (Worker in workerd)", freshStorage, workerRegistry);

const r2 = suite("r2 in workerd");

r2("appends of several parts: bounded parts, any chunking, ranges across segments", async () => {
  const s = freshStorage();
  const bytes = bytesOf(13 * MiB + 17, 3);
  const u = await s.uploads.create("big", { algorithm: "sha256" });
  // 1 + 11 MiB + ~1 MiB: a small segment, a two-part multipart segment, a small one again
  const cuts = [0, 1000, 11 * MiB + 1000, bytes.byteLength];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const piece = bytes.subarray(cuts[i], cuts[i + 1]);
    const chunks = [];
    for (let at = 0; at < piece.byteLength; at += 700_001) {
      chunks.push(piece.subarray(at, at + 700_001));
    }
    const info = await s.uploads.append("big", u.id, cuts[i], chunksOf(...chunks));
    assert.equal(info?.size, cuts[i + 1]);
  }
  const digest = digestOf(bytes);
  assert.deepEqual(await s.uploads.commit("big", u.id, digest, bytes.byteLength), {
    digest,
    size: bytes.byteLength,
  });
  const whole = await readAll((await s.blobs.read("big", digest))!);
  assert.equal(digestOf(whole), digest);
  const start = 500;
  const end = 11 * MiB + 2000;
  const part = await readAll((await s.blobs.read("big", digest, { start, end }))!);
  assert.equal(part.byteLength, end - start + 1);
  assert.equal(digestOf(part), digestOf(bytes.subarray(start, end + 1)));
});

r2(
  "a session started in one Worker isolate continues in another (state in the bucket)",
  async () => {
    const w1 = (await mf.getWorker("w1")) as unknown as { fetch: Miniflare["dispatchFetch"] };
    const other = dispatcher({ dispatchFetch: w1.fetch.bind(w1) } as unknown as Miniflare);
    const prefix = `x${Date.now().toString(36)}`;
    const a = remoteR2Storage(dispatch, prefix);
    const b = remoteR2Storage(other, prefix);
    const bytes = bytesOf(70_000, 5);
    const u = await a.uploads.create("r", { algorithm: "sha256" });
    await a.uploads.append("r", u.id, 0, chunksOf(bytes.subarray(0, 30_000)));
    assert.equal((await b.uploads.get("r", u.id))?.size, 30_000);
    await b.uploads.append("r", u.id, 30_000, chunksOf(bytes.subarray(30_000)));
    const digest = digestOf(bytes);
    assert.deepEqual(await a.uploads.commit("r", u.id, digest, 70_000), { digest, size: 70_000 });
    assert.equal(digestOf(await readAll((await b.blobs.read("r", digest))!)), digest);
  },
);

r2.run();

const done = suite("r2: teardown");
done("workerd stops", async () => {
  await mf.dispose();
});
done.run();
