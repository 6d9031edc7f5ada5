/**
 * The storage contract: what the registry handler needs from a storage adapter.
 *
 * Data only: adapters never build HTTP responses and never validate protocol input (the handler
 * checks names, tags and digests before any adapter is called). Absence is a value (`undefined`),
 * not an exception. The few conflicts an adapter must detect atomically are thrown as
 * {@link UploadOffsetError}; anything else thrown is an internal failure (a 500).
 *
 * Every adapter runs the same contract suite (lib/testing/storage_contract.ts) and the same HTTP
 * protocol suite (tests/protocol/mod.ts).
 *
 * Required of every adapter: `blobs.stat`, `blobs.read`, `manifests.get`, `tags.get` and
 * `tags.list`. The other members belong to optional capabilities, each present whole or not at all
 * (lib/storage/capabilities.ts finds them once, at `createRegistry`):
 * - push: `uploads` (the whole {@link UploadStore}), `manifests.put`, `tags.set`;
 * - mount: `blobs.link`;
 * - delete: `manifests.delete`, `tags.delete`, `blobs.unlink`;
 * - referrers: `manifests.referrers`;
 * - catalog: `repositories`;
 * - purge: `uploads.purge`;
 * - gc (needs catalog and delete): `manifests.list`, `blobs.links`, `blobs.owners`, `blobs.list`,
 *   `blobs.touch`, `blobs.remove`, `blobs.lease`, and `blobs.unlink` honouring its `before`.
 * The registry answers what the spec gives for an absent capability (405 with `Allow`, a plain
 * upload session instead of a mount, 404 for referrers), as it does when an option turns it off.
 *
 * @module
 */

/** A digest string, `algorithm:hex`, already validated by the handler. */
export type Digest = string;

/** An inclusive byte range within a blob: `start <= end < size`. */
export interface ByteRange {
  /** First byte offset. */
  start: number;
  /** Last byte offset, inclusive. */
  end: number;
}

/** What is known about a stored blob. */
export interface BlobInfo {
  /** The verified digest of the content. */
  digest: Digest;
  /** Size in bytes. */
  size: number;
}

/**
 * The body of a blob read: a stream, or a `Blob` (which every runtime sends with a
 * `Content-Length`, and which Bun can send with sendfile when it comes from `Bun.file()`).
 */
export type BlobBody = ReadableStream<Uint8Array> | Blob;

/** The state of an upload session, as kept in storage. */
export interface UploadInfo {
  /** Unguessable session id (URL-safe). */
  id: string;
  /** The repository the session belongs to. */
  repository: string;
  /** Bytes received and acknowledged so far. */
  size: number;
  /** Hash algorithm the client asked for at POST (`sha256` unless `?digest-algorithm=`). */
  algorithm: string;
  /** Creation time, milliseconds since the epoch (for expiry). */
  createdAt: number;
}

/** Options for creating an upload session. */
export interface CreateUploadOptions {
  /** Digest algorithm of the session. */
  algorithm: string;
}

/** A descriptor, as listed in a referrers index. */
export interface Descriptor {
  /** Media type of the referenced content. */
  mediaType: string;
  /** Digest of the referenced content. */
  digest: Digest;
  /** Size in bytes. */
  size: number;
  /** Artifact type (the manifest's `artifactType`, else its config media type). */
  artifactType?: string;
  /** The manifest's annotations. */
  annotations?: Record<string, string>;
}

/** A manifest as stored: its exact bytes and what the handler parsed out of it. */
export interface ManifestRecord {
  /** Digest of `bytes`, verified by the handler. */
  digest: Digest;
  /** The Content-Type it was pushed with (parameters stripped). */
  mediaType: string;
  /** The exact bytes pushed. */
  bytes: Uint8Array;
  /** Digest of the manifest's `subject`, when it has one: the referrers index key. */
  subject?: Digest;
  /** The descriptor to list under `subject` in the referrers index. */
  referrer?: Descriptor;
}

/** A stored entry of an enumeration and when it was last written or touched. */
export interface StoredEntry {
  /** The manifest's or blob's digest. */
  digest: Digest;
  /** Last written or touched, milliseconds since the epoch. */
  modifiedAt: number;
}

/** Stored blob content, as enumerated for garbage collection. */
export interface StoredBlob extends StoredEntry {
  /** Size in bytes. */
  size: number;
}

/**
 * A named lease held until it expires (capability gc): at most one holder per name at a time,
 * across processes sharing the storage.
 */
export interface Lease {
  /** When the lease runs out unless renewed, milliseconds since the epoch. */
  readonly expiresAt: number;
  /** Extend the lease to `ttlMs` from now; false when it was lost (expired and taken). */
  renew(ttlMs: number): Promise<boolean>;
  /** Give the lease up (idempotent; does nothing when it was lost). */
  release(): Promise<void>;
}

/** Paging for ordered listings. */
export interface ListOptions {
  /** Return only entries strictly after this one (byte order). */
  after?: string;
  /** At most this many entries. */
  limit: number;
}

/** One page of an ordered listing. */
export interface Page<T> {
  /** Entries in byte order. */
  items: T[];
  /** True when entries remain after the last one returned. */
  more: boolean;
}

/**
 * Thrown by {@link UploadStore.append} when `offset` is not the session's current size (another
 * request appended first, or the client is out of order). Maps to 416.
 */
export class UploadOffsetError extends Error {
  /** The session's actual size. */
  readonly size: number;
  /** @param size The session's actual size. */
  constructor(size: number) {
    super(`upload offset does not match the ${size} bytes received`);
    this.name = "UploadOffsetError";
    this.size = size;
  }
}

/**
 * Content-addressed blobs, stored once, visible per repository through links.
 */
export interface BlobStore {
  /** The blob's info if its content exists and `repository` links to it. */
  stat(repository: string, digest: Digest): Promise<BlobInfo | undefined>;
  /**
   * The blob's bytes (all, or the inclusive `range`, already clamped by the handler), if it
   * exists and `repository` links to it.
   */
  read(repository: string, digest: Digest, range?: ByteRange): Promise<BlobBody | undefined>;
  /**
   * Capability mount: link existing content into `repository` (cross-repository mount). Answers
   * the blob's info, or `undefined` when no content with that digest is stored.
   */
  link?(repository: string, digest: Digest): Promise<BlobInfo | undefined>;
  /**
   * Capability delete: remove `repository`'s link. True if there was one. Content stays stored.
   *
   * Capability gc: with `before` (ms since epoch), only if the link was last made or touched
   * before then, decided atomically against a concurrent {@link BlobStore.touch}, `link` or
   * upload commit (one of them wins: either the touch fails or the link stays).
   */
  unlink?(repository: string, digest: Digest, before?: number): Promise<boolean>;
  /**
   * Capability gc: refresh the time of `repository`'s link to `digest`, and of the content, to
   * now. False (and nothing changes) when the link or the content is gone. `link` and upload
   * commit touch the same way. The handler touches every blob a manifest PUT references.
   */
  touch?(repository: string, digest: Digest): Promise<boolean>;
  /** Capability gc: the links of `repository`, in no particular order, streamed. */
  links?(repository: string): AsyncIterable<StoredEntry>;
  /** Capability gc: every repository holding at least one link, in no particular order. */
  owners?(): AsyncIterable<string>;
  /** Capability gc: every stored blob content, in no particular order, streamed. */
  list?(): AsyncIterable<StoredBlob>;
  /**
   * Capability gc: delete the content of `digest` if it was last written or touched before
   * `before`, decided atomically against a concurrent touch, `link` or upload commit. The
   * caller has made sure no repository links it. True if deleted.
   */
  remove?(digest: Digest, before: number): Promise<boolean>;
  /**
   * Capability gc: take the lease `name` for `ttlMs`, or `undefined` while another holder's
   * lease has not expired. Collectors hold `gc` while they run.
   */
  lease?(name: string, ttlMs: number): Promise<Lease | undefined>;
  /** Optional: a URL the client may be redirected to for a whole-blob GET (S3 presigned). */
  redirectUrl?(repository: string, digest: Digest): Promise<string | undefined>;
}

/**
 * Upload sessions (capability push, with `manifests.put` and `tags.set`). State lives in storage, so a restarted process or another replica can
 * continue a session. Appends are all-or-nothing: `size` moves only when a whole append
 * succeeded.
 */
export interface UploadStore {
  /** Start a session in `repository`. */
  create(repository: string, options: CreateUploadOptions): Promise<UploadInfo>;
  /** The session, if it exists and belongs to `repository`. */
  get(repository: string, id: string): Promise<UploadInfo | undefined>;
  /**
   * Append `data` at `offset`. Throws {@link UploadOffsetError} if `offset` is not the current
   * size (checked atomically against concurrent appends). If `data` throws, nothing is appended
   * and the error propagates. Answers the new state, or `undefined` if the session is unknown.
   */
  append(
    repository: string,
    id: string,
    offset: number,
    data: AsyncIterable<Uint8Array>,
  ): Promise<UploadInfo | undefined>;
  /** The bytes received so far, to re-hash when the in-process hash state is gone. */
  read(repository: string, id: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /**
   * Make the session's bytes visible as blob `digest` (already verified by the handler) and link
   * it into `repository`, atomically; the session ends. Answers the blob's info, or `undefined`
   * if the session is unknown.
   *
   * `size` is the number of bytes the handler verified `digest` over. When given, a session
   * holding any other number of bytes (another process appended after the handler hashed) is
   * refused with {@link UploadOffsetError} carrying the session's size, and nothing is committed;
   * the check is atomic with the commit (no append can land between them).
   */
  commit(
    repository: string,
    id: string,
    digest: Digest,
    size?: number,
  ): Promise<BlobInfo | undefined>;
  /** End the session and drop its bytes. Idempotent; true if it existed. */
  cancel(repository: string, id: string): Promise<boolean>;
  /**
   * Capability purge: end every session created before `before` (ms since epoch) and drop its
   * bytes; answers how many. The registry handler owns expiry (its `uploadTtlMs`): it refuses
   * expired sessions itself and calls this now and then. Adapters keep no TTL or timer of their own.
   */
  purge?(before: number): Promise<number>;
}

/** Manifests by digest, per repository, with the referrers index. */
export interface ManifestStore {
  /**
   * Capability push: store (or overwrite with identical bytes) and index the referrer under its
   * subject.
   */
  put?(repository: string, manifest: ManifestRecord): Promise<void>;
  /** The stored manifest, if `repository` has it. */
  get(repository: string, digest: Digest): Promise<ManifestRecord | undefined>;
  /**
   * Capability delete: remove the manifest, every tag pointing to it, and its referrers-index
   * entry. True if it existed.
   */
  delete?(repository: string, digest: Digest): Promise<boolean>;
  /**
   * Capability referrers: descriptors of every manifest in `repository` whose subject is
   * `subject`.
   */
  referrers?(repository: string, subject: Digest): Promise<Descriptor[]>;
  /** Capability gc: the manifests of `repository`, in no particular order, streamed. */
  list?(repository: string): AsyncIterable<StoredEntry>;
}

/** Tags: names pointing to manifest digests. */
export interface TagStore {
  /** The digest `tag` points to. */
  get(repository: string, tag: string): Promise<Digest | undefined>;
  /**
   * Capability push: point `tag` at `digest`. With `expected` (a digest, or `null` for "tag must
   * not exist"), only if the tag currently has that value (compare-and-swap); answers whether it
   * was set.
   */
  set?(repository: string, tag: string, digest: Digest, expected?: Digest | null): Promise<boolean>;
  /** Capability delete: remove `tag`. True if it existed. */
  delete?(repository: string, tag: string): Promise<boolean>;
  /**
   * Tags in byte order, paged. `undefined` when the repository is unknown (holds no manifest).
   */
  list(repository: string, options: ListOptions): Promise<Page<string> | undefined>;
}

/**
 * A storage adapter: the four stores plus repository listing. Only the required members must be
 * present (see the module docs); a read-only adapter leaves out `uploads`, the write members and
 * whatever else it cannot do.
 */
export interface Storage {
  /** Blobs and per-repository links. */
  blobs: BlobStore;
  /** Capability push: upload sessions. */
  uploads?: UploadStore;
  /** Manifests and referrers. */
  manifests: ManifestStore;
  /** Tags. */
  tags: TagStore;
  /** Capability catalog: repositories that hold at least one manifest, in byte order, paged. */
  repositories?(options: ListOptions): Promise<Page<string>>;
  /** Optional: release resources (handles). */
  close?(): Promise<void>;
}

/** A storage adapter with every optional capability (the built-in adapters are). */
export interface FullStorage extends Storage {
  /** Blobs, with `link` and `unlink`. */
  blobs: BlobStore & Required<Pick<BlobStore, "link" | "unlink">>;
  /** Upload sessions, with `purge`. */
  uploads: Required<UploadStore>;
  /** Manifests, with `put`, `delete` and `referrers`. */
  manifests: Required<Omit<ManifestStore, "list">>;
  /** Tags, with `set` and `delete`. */
  tags: Required<TagStore>;
  /** Repositories that hold at least one manifest, in byte order, paged. */
  repositories(options: ListOptions): Promise<Page<string>>;
}

/** A storage adapter with every optional capability, garbage collection included. */
export interface CollectableStorage extends FullStorage {
  /** Blobs, with every member but `redirectUrl`. */
  blobs: BlobStore & Required<Omit<BlobStore, "redirectUrl">>;
  /** Manifests, with every member. */
  manifests: Required<ManifestStore>;
}
