/**
 * Helpers of the storage contract suite, usable in an adapter's own tests too: deterministic
 * bytes, async chunk iterables, byte assertions, and pushes straight into a storage.
 *
 * The handler verifies digests before it calls `commit`, so these helpers compute real digests
 * and never commit bytes under a wrong digest.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CapabilityName } from "../storage/capabilities.ts";
import type {
  BlobBody,
  Descriptor,
  FullStorage,
  ManifestRecord,
  UploadStore,
} from "../storage/types.ts";
import { digestOf } from "./content.ts";
import { MEDIA_TYPES } from "./media_types.ts";

const encoder = new TextEncoder();

/**
 * Deterministic pseudo-random bytes (xorshift), so that failures reproduce.
 *
 * @example
 * ```ts
 * bytesOf(2048, 3).length; // 2048
 * ```
 */
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

/**
 * An async iterable over `chunks` (the shape `uploads.append` takes).
 *
 * @example
 * ```ts
 * await storage.uploads.append("a", id, 0, chunksOf(bytesOf(10)));
 * ```
 */
export async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/**
 * Assert that `actual` holds exactly the bytes of `expected`, with a short message (a deep-equal
 * diff of megabyte arrays takes minutes to print).
 *
 * @example
 * ```ts
 * assertBytes(await readAll(body), expected, "blob");
 * ```
 */
export function assertBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
  what = "bytes",
): void {
  assert.ok(actual instanceof Uint8Array, `${what}: not a Uint8Array`);
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  const at = actual.findIndex((b, i) => b !== expected[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

/**
 * Read a blob body or stream to its end.
 *
 * @example
 * ```ts
 * const bytes = await readAll((await storage.blobs.read("a", digest))!);
 * ```
 */
export async function readAll(body: BlobBody | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/**
 * Push `bytes` as one blob into `repository` through an upload session (in `pieces` appends);
 * answers its digest.
 *
 * @example
 * ```ts
 * const digest = await pushBlob(storage, "lib/a", bytesOf(1000), 3);
 * ```
 */
export async function pushBlob(
  storage: { uploads?: Pick<UploadStore, "create" | "append" | "commit"> },
  repository: string,
  bytes: Uint8Array,
  pieces = 1,
): Promise<string> {
  assert.ok(storage.uploads, "pushBlob: the storage has upload sessions (push)");
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

/**
 * A manifest record for `json`, optionally with a subject (and then a referrer descriptor).
 *
 * @example
 * ```ts
 * await storage.manifests.put("a", manifestOf({ schemaVersion: 2 }));
 * ```
 */
export function manifestOf(json: unknown, subject?: string, artifactType?: string): ManifestRecord {
  const bytes = encoder.encode(JSON.stringify(json));
  const digest = digestOf(bytes);
  const mediaType = MEDIA_TYPES.manifest;
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

/** Orders descriptors by digest (referrer lists have no defined order). */
export function byDigest(a: Descriptor, b: Descriptor): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

/** A promise with its resolve function, to hold an iterable open. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Tests of one area of the contract, registered through {@link ContractDefiner}. */
export interface ContractDefiner {
  /**
   * Register a test that needs the capabilities `needs` (it is left out when one is skipped).
   * `fresh` makes a new, empty storage, closed and cleaned up after the test; the test runs
   * only when the capabilities it uses are present, so it sees every member as present.
   */
  test(
    title: string,
    needs: readonly CapabilityName[],
    body: (fresh: () => Promise<FullStorage>) => Promise<void>,
  ): void;
  /** Whether the adapter under test provides `capability` (not skipped). */
  has(capability: CapabilityName): boolean;
}
