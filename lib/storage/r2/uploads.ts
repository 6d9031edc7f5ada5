/**
 * Upload sessions over R2. Every bit of session state lives in the bucket, so any isolate
 * continues any session:
 *
 * - The state object (`uploads/<id>`, JSON) holds the size and the list of segments received
 *   (segments.ts: one object per append). Every write of it is conditional on the etag read
 *   (`onlyIf.etagMatches`). An append first claims the session (a lease, renewed at every part),
 *   so a second append, or a commit, fails at once with UploadOffsetError while one streams; an
 *   isolate that dies mid-append blocks its session for at most the lease (60 s).
 * - Commit (the handler has verified the digest over the bytes it read) first marks the state
 *   `committing` (conditionally: no append can land after the size check), then writes the blob
 *   record (`blobs/<algorithm>/<hex>`: the segment list), links it into the repository and drops
 *   the state. The blob is visible only from that record on, and no byte is copied.
 * - Cancel and purge drop the state, then the segments. Expiry is the handler's (`uploadTtlMs`):
 *   it calls `purge(before)`; nothing here has a TTL.
 *
 * @module
 */
import {
  type BlobInfo,
  type CreateUploadOptions,
  type UploadInfo,
  UploadOffsetError,
  type UploadStore,
} from "../types.ts";
import type { R2Bucket } from "./binding.ts";
import type { R2Layout } from "./layout.ts";
import { deleteKeys, randomToken, readSegments, type Segment, writeSegment } from "./segments.ts";

/** A session as stored. */
interface SessionState {
  id: string;
  repository: string;
  algorithm: string;
  createdAt: number;
  size: number;
  segments: Segment[];
  /** Set by a commit that has checked the size: appends are refused from then on. */
  committing?: boolean;
  /** The append streaming into the session, until its lease ends (ms since the epoch). */
  writer?: { token: string; until: number };
}

/** A session with the etag of the object it was read from. */
interface Loaded {
  state: SessionState;
  etag: string;
}

/** A blob record: the segments holding its bytes, in order. */
export interface BlobRecord {
  /** Size in bytes. */
  size: number;
  /** The segments. */
  segments: Segment[];
}

/** How long a claim holds without renewal. */
const LEASE_MS = 60_000;

const ID = /^[A-Za-z0-9_-]{16,128}$/;

function info(state: SessionState): UploadInfo {
  const { id, repository, size, algorithm, createdAt } = state;
  return { id, repository, size, algorithm, createdAt };
}

/**
 * The upload store of {@link r2Storage}, over `bucket` with `layout`.
 *
 * @example
 * ```ts
 * const uploads = r2UploadStore(env.BUCKET, r2Layout(""), 10 << 20);
 * ```
 */
export function r2UploadStore(
  bucket: R2Bucket,
  layout: R2Layout,
  partSize: number,
): Required<UploadStore> {
  async function load(id: string): Promise<Loaded | undefined> {
    if (!ID.test(id)) return undefined;
    const object = await bucket.get(layout.upload(id));
    if (!object) return undefined;
    return { state: JSON.parse(await object.text()), etag: object.etag };
  }

  async function loadIn(repository: string, id: string): Promise<Loaded | undefined> {
    const loaded = await load(id);
    return loaded?.state.repository === repository ? loaded : undefined;
  }

  /** Write `state` if the stored one still has `etag`; answers the new etag. */
  async function save(state: SessionState, etag: string): Promise<string | undefined> {
    const put = await bucket.put(layout.upload(state.id), JSON.stringify(state), {
      onlyIf: { etagMatches: etag },
      httpMetadata: { contentType: "application/json" },
    });
    return put?.etag;
  }

  /** Whether an append holds the session. */
  function held(state: SessionState): boolean {
    return state.writer !== undefined && state.writer.until > Date.now();
  }

  /** Drop a session: its state first (so no request finds it), then its segments. */
  async function end(state: SessionState): Promise<void> {
    await bucket.delete(layout.upload(state.id));
    if (state.committing) return; // its segments may belong to the blob now
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix: layout.segments(state.id), cursor });
      keys.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    await deleteKeys(bucket, keys);
  }

  async function commit(
    repository: string,
    id: string,
    digest: string,
    size?: number,
  ): Promise<BlobInfo | undefined> {
    let loaded = await loadIn(repository, id);
    while (loaded && !loaded.state.committing) {
      if (held(loaded.state)) throw new UploadOffsetError(loaded.state.size);
      if (size !== undefined && loaded.state.size !== size) {
        throw new UploadOffsetError(loaded.state.size);
      }
      const marked = { ...loaded.state, committing: true };
      const etag = await save(marked, loaded.etag);
      if (etag) loaded = { state: marked, etag };
      else loaded = await loadIn(repository, id);
    }
    if (!loaded) return undefined;
    const { state } = loaded;
    if (size !== undefined && state.size !== size) throw new UploadOffsetError(state.size);
    const blobKey = layout.blob(digest);
    const existing = await bucket.get(blobKey);
    let mine = true;
    if (existing) {
      const record: BlobRecord = JSON.parse(await existing.text());
      mine = record.segments.some((s) => s.key.startsWith(layout.segments(id)));
    } else {
      const record: BlobRecord = { size: state.size, segments: state.segments };
      await bucket.put(blobKey, JSON.stringify(record), {
        customMetadata: { size: String(state.size) },
        httpMetadata: { contentType: "application/json" },
      });
    }
    await bucket.put(layout.link(repository, digest), "", {
      customMetadata: { size: String(state.size) },
    });
    await bucket.delete(layout.upload(id));
    // The content was stored already by another session: these bytes are not needed.
    if (!mine) await deleteKeys(bucket, state.segments.map((s) => s.key));
    return { digest, size: state.size };
  }

  return {
    async create(repository: string, options: CreateUploadOptions): Promise<UploadInfo> {
      const createdAt = Date.now();
      const state: SessionState = {
        id: `${createdAt.toString(36)}-${randomToken(18)}`,
        repository,
        algorithm: options.algorithm,
        createdAt,
        size: 0,
        segments: [],
      };
      const put = await bucket.put(layout.upload(state.id), JSON.stringify(state), {
        onlyIf: { etagDoesNotMatch: "*" },
        httpMetadata: { contentType: "application/json" },
      });
      if (!put) throw new Error("upload id collision");
      return info(state);
    },

    async get(repository: string, id: string): Promise<UploadInfo | undefined> {
      const loaded = await loadIn(repository, id);
      return loaded && info(loaded.state);
    },

    async append(repository, id, offset, data): Promise<UploadInfo | undefined> {
      const loaded = await loadIn(repository, id);
      if (!loaded) return undefined;
      const { state } = loaded;
      if (state.committing || held(state) || offset !== state.size) {
        throw new UploadOffsetError(state.size);
      }
      const writer = { token: randomToken(9), until: Date.now() + LEASE_MS };
      const claimed = { ...state, writer };
      let etag = await save(claimed, loaded.etag);
      if (!etag) {
        // Another request came first.
        const now = await loadIn(repository, id);
        if (!now) return undefined;
        throw new UploadOffsetError(now.state.size);
      }
      const renew = async () => {
        const renewed = { ...claimed, writer: { ...writer, until: Date.now() + LEASE_MS } };
        const next = await save(renewed, etag!);
        // A failed renewal (the session was cancelled) shows at the final save.
        if (next) etag = next;
      };
      let segment;
      try {
        segment = await writeSegment(
          bucket,
          layout.segment(id, `${Date.now().toString(36)}-${writer.token}`),
          data,
          partSize,
          renew,
        );
      } catch (error) {
        await save({ ...state }, etag).catch(() => {});
        throw error;
      }
      const next: SessionState = segment
        ? { ...state, size: state.size + segment.size, segments: [...state.segments, segment] }
        : { ...state };
      if (await save(next, etag)) return info(next);
      // The session was cancelled (or its lease ran out and another request took it).
      if (segment) await bucket.delete(segment.key);
      const now = await loadIn(repository, id);
      if (!now) return undefined;
      throw new UploadOffsetError(now.state.size);
    },

    async read(repository: string, id: string): Promise<ReadableStream<Uint8Array> | undefined> {
      const loaded = await loadIn(repository, id);
      if (!loaded) return undefined;
      const { state } = loaded;
      return readSegments(bucket, state.segments, 0, state.size - 1);
    },

    commit,

    async cancel(repository: string, id: string): Promise<boolean> {
      const loaded = await loadIn(repository, id);
      if (!loaded) return false;
      await end(loaded.state);
      return true;
    },

    async purge(before: number): Promise<number> {
      let purged = 0;
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix: layout.uploads, cursor });
        for (const object of page.objects) {
          const id = object.key.slice(layout.uploads.length);
          // Ids start with their creation time, so young sessions are skipped without a GET.
          const dash = id.indexOf("-");
          const stamp = dash > 0 ? parseInt(id.slice(0, dash), 36) : Number.NaN;
          if (stamp >= before) continue;
          const loaded = await load(id);
          if (!loaded || loaded.state.createdAt >= before) continue;
          await end(loaded.state);
          purged++;
        }
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return purged;
    },
  };
}
