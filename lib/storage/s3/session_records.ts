/**
 * Upload session records in the bucket: the state object (`uploads/<id>/state`, JSON), its
 * conditional writes, and the claim (a lease) an append, a read or a commit holds while it works.
 *
 * Every write of the state is conditional (`If-Match` on the ETag read, `If-None-Match: *` at
 * create) and carries a fresh nonce, so that its ETag (an MD5 of the body) never repeats: of two
 * replicas writing over the same ETag, exactly one succeeds.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import type { UploadInfo } from "../types.ts";
import type { S3Client } from "../../s3/client.ts";
import type { Layout } from "./layout.ts";

/** A part of the session's multipart upload, as recorded. */
export interface StoredPart {
  /** Part number. */
  n: number;
  /** Its ETag. */
  etag: string;
  /** Its size in bytes. */
  size: number;
}

/** The multipart upload in progress at `uploads/<id>/data` and its recorded parts. */
export interface MultipartRecord {
  /** The UploadId. */
  uploadId: string;
  /** Parts in ascending order. */
  parts: StoredPart[];
}

/** Who holds a session: an append, or a read or commit completing its multipart upload. */
export interface Claim {
  /** Unique per holder. */
  token: string;
  /** When the holder last renewed it (ms since the epoch, the holder's clock). */
  renewedAt: number;
  /** What holds it (absent in records written before kinds existed: an append). */
  kind?: "append" | "read" | "commit";
}

/** The session state as stored in the bucket. */
export interface SessionState {
  /** Session id. */
  id: string;
  /** Its repository. */
  repository: string;
  /** Digest algorithm. */
  algorithm: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Bytes received and recorded. */
  size: number;
  /** Fresh per write, so the state's ETag never repeats. */
  nonce: string;
  /** The multipart upload in progress (at `uploads/<id>/data`) and its recorded parts. */
  multipart?: MultipartRecord;
  /** Bytes completed into `uploads/<id>/data` (after a read), when no multipart is in progress. */
  base?: number;
  /** Received bytes after the parts (or base), shorter than a part. */
  tail?: { key: string; size: number };
  /** The request holding the session. */
  writer?: Claim;
}

/** A state and the ETag it was read (or written) with. */
export interface Loaded {
  /** The state. */
  state: SessionState;
  /** Its ETag. */
  etag: string;
}

/** Reading and writing session states (see the module docs). */
export interface SessionRecords {
  /** The state of `id`, whatever its repository. */
  load(id: string): Promise<Loaded | undefined>;
  /** The state of `id` if it belongs to `repository`. */
  loadIn(repository: string, id: string): Promise<Loaded | undefined>;
  /** Write `state` if it is still `etag` (`null`: if there is none). New ETag, or undefined. */
  save(state: SessionState, etag: string | null): Promise<string | undefined>;
  /** Whether a live claim holds the session. */
  leased(state: SessionState): boolean;
  /**
   * Claim the session with one conditional write over `loaded`. Answers the claimed record, or
   * undefined when another write came first.
   */
  claim(loaded: Loaded, kind: Claim["kind"]): Promise<Loaded | undefined>;
}

/**
 * A random URL-safe token.
 *
 * @example
 * ```ts
 * token(12); // 16 characters
 * ```
 */
export function token(bytes = 12): string {
  return randomBytes(bytes).toString("base64url");
}

/**
 * The contract's view of a state.
 *
 * @example
 * ```ts
 * uploadInfo(loaded.state); // { id, repository, size, algorithm, createdAt }
 * ```
 */
export function uploadInfo(state: SessionState): UploadInfo {
  return {
    id: state.id,
    repository: state.repository,
    size: state.size,
    algorithm: state.algorithm,
    createdAt: state.createdAt,
  };
}

/**
 * `state` without its claim.
 *
 * @example
 * ```ts
 * await records.save(released(state), etag);
 * ```
 */
export function released(state: SessionState): SessionState {
  const copy = { ...state };
  delete copy.writer;
  return copy;
}

/**
 * Session records of one layout. `leaseMs` is how long a claim holds without renewal.
 *
 * @example
 * ```ts
 * const records = sessionRecords(client, createLayout("reg"), 60_000);
 * const loaded = await records.loadIn("lib/app", id);
 * ```
 */
export function sessionRecords(s3: S3Client, layout: Layout, leaseMs: number): SessionRecords {
  const decoder = new TextDecoder();

  async function load(id: string): Promise<Loaded | undefined> {
    const object = await s3.getBytes(layout.uploadState(id));
    if (!object) return undefined;
    return { state: JSON.parse(decoder.decode(object.bytes)), etag: object.etag };
  }

  async function save(state: SessionState, etag: string | null): Promise<string | undefined> {
    state.nonce = token(9);
    return await s3.putObject(
      layout.uploadState(state.id),
      JSON.stringify(state),
      etag === null
        ? { ifNoneMatch: "*", contentType: "application/json" }
        : { ifMatch: etag, contentType: "application/json" },
    );
  }

  return {
    load,
    async loadIn(repository, id) {
      const loaded = await load(id);
      return loaded && loaded.state.repository === repository ? loaded : undefined;
    },
    save,
    leased: (state) => state.writer !== undefined && Date.now() - state.writer.renewedAt < leaseMs,
    async claim(loaded, kind) {
      const state = { ...loaded.state, writer: { token: token(), renewedAt: Date.now(), kind } };
      const etag = await save(state, loaded.etag);
      return etag === undefined ? undefined : { state, etag };
    },
  };
}
