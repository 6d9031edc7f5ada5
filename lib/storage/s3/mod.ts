/**
 * The S3 storage adapter: any S3-compatible store (AWS S3, Cloudflare R2, MinIO, Ceph RGW), for
 * stateless replicas over one bucket. Every piece of state, upload sessions included, lives in
 * the bucket (key layout: layout.ts; sessions: upload_sessions.ts), so any replica
 * serves any request.
 *
 * - Blobs are stored once under `blobs/<algorithm>/<hex>` and linked per repository; reads map
 *   to GetObject, ranges to GetObject with Range; with `redirect`, whole-blob GETs may be
 *   redirected to a presigned URL.
 * - Tags are small objects whose body is the digest; compare-and-swap uses conditional writes
 *   (`If-None-Match: *` for "must not exist", `If-Match` on the ETag read for "must be X").
 * - Listing tags lists only the repository's `_tags/` keys (ListObjectsV2 with StartAfter); the
 *   catalog lists one marker object per repository, written at manifest PUT and removed with
 *   the repository's last manifest. Neither walks the bucket.
 * - The referrers index is one small object per referrer under its subject, written at PUT.
 *
 * Consistency assumptions: strong read-after-write and list-after-write consistency (AWS S3
 * since 2020, R2, MinIO and RGW all give it) and atomic conditional PUTs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { S3Client, type S3Connection } from "../../s3/client.ts";
import { createLayout } from "./layout.ts";
import { MIN_PART_SIZE, s3UploadStore } from "./upload_sessions.ts";
export type { S3Connection } from "../../s3/client.ts";
import type {
  BlobBody,
  BlobInfo,
  ByteRange,
  Descriptor,
  Digest,
  FullStorage,
  ListOptions,
  ManifestRecord,
  Page,
} from "../types.ts";

/**
 * Options of {@link s3Storage}: where the bucket is and the credentials (the S3 client's own
 * {@link S3Connection}), and what the adapter adds.
 */
export interface S3StorageOptions extends S3Connection {
  /** Key prefix inside the bucket (several registries can share one bucket). Default: none. */
  prefix?: string;
  /**
   * Multipart part size in bytes: default 8 MiB, at least 5 MiB (S3's minimum). Memory per
   * in-flight upload request is about two parts (one filling, one uploading).
   */
  partSize?: number;
  /**
   * Redirect whole-blob GETs to presigned URLs (`307`), so blob bytes flow from the store, not
   * through the registry. Off by default; never for ranged GETs.
   */
  redirect?: boolean;
  /** Lifetime of presigned URLs in ms (default 15 minutes). */
  redirectTtlMs?: number;
  /** How the store wants `If-Match` values; learned on first use when not given. */
  ifMatchStyle?: "quoted" | "bare";
}

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** Map `items` through `fn`, at most `limit` at a time, keeping order. */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The ETag S3 gives a simple PUT of `text`: its quoted MD5. */
function md5Etag(text: string): string {
  return `"${createHash("md5").update(text).digest("hex")}"`;
}

/**
 * A storage adapter over one S3 bucket.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { s3Storage } from "fetch-registry/s3";
 * const storage = s3Storage({
 *   endpoint: "https://s3.eu-west-1.amazonaws.com",
 *   bucket: "my-registry",
 *   region: "eu-west-1",
 *   accessKeyId: process.env.AWS_ACCESS_KEY_ID!,
 *   secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY!,
 *   prefix: "prod",
 * });
 * const registry = createRegistry({ storage });
 * ```
 */
export function s3Storage(options: S3StorageOptions): FullStorage {
  const partSize = options.partSize ?? 8 * 1024 * 1024;
  if (!(partSize >= MIN_PART_SIZE)) {
    throw new RangeError(
      `partSize must be at least ${MIN_PART_SIZE} bytes (S3's minimum part size)`,
    );
  }
  const s3 = new S3Client(options);
  const layout = createLayout(options.prefix ?? "");

  /** Walk a listing from `startAfter`, collecting up to `limit` names (key minus `prefix`). */
  async function listNames(
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<Page<string>> {
    const wanted = Math.max(0, Math.floor(limit));
    const items: string[] = [];
    let more = false;
    const pages = s3.listAll({
      prefix,
      startAfter: after === undefined ? undefined : prefix + after,
      maxKeys: Math.min(1000, wanted + 1),
    });
    for await (const page of pages) {
      for (const o of page.objects) {
        if (items.length === wanted) {
          more = true;
          break;
        }
        items.push(o.key.slice(prefix.length));
      }
      if (more || !page.truncated) break;
    }
    await pages.return(undefined);
    return { items, more };
  }

  async function hasManifests(repository: string): Promise<boolean> {
    const page = await s3.listObjects({ prefix: layout.manifests(repository), maxKeys: 1 });
    return page.objects.length > 0;
  }

  async function statLink(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
    const link = await s3.headObject(layout.link(repository, digest));
    if (!link) return undefined;
    return { digest, size: Number(link.metadata.size ?? 0) };
  }

  /** Remove the catalog marker if the repository holds no manifest any more. */
  async function tidyCatalog(repository: string): Promise<void> {
    if (await hasManifests(repository)) return;
    await s3.deleteObject(layout.catalogEntry(repository));
    // A manifest put by another replica meanwhile gets its marker back.
    if (await hasManifests(repository)) await s3.putObject(layout.catalogEntry(repository), EMPTY);
  }

  const storage: FullStorage = {
    blobs: {
      stat: statLink,

      async read(
        repository: string,
        digest: Digest,
        range?: ByteRange,
      ): Promise<BlobBody | undefined> {
        const [link, object] = await Promise.all([
          s3.headObject(layout.link(repository, digest)),
          s3.getObject(layout.blob(digest), range),
        ]);
        if (!link || !object) {
          await object?.body.cancel().catch(() => {});
          return undefined;
        }
        return object.body;
      },

      async link(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
        const content = await s3.headObject(layout.blob(digest));
        if (!content) return undefined;
        await s3.putObject(layout.link(repository, digest), EMPTY, {
          metadata: { size: String(content.size) },
        });
        return { digest, size: content.size };
      },

      async unlink(repository: string, digest: Digest): Promise<boolean> {
        if (!(await s3.headObject(layout.link(repository, digest)))) return false;
        await s3.deleteObject(layout.link(repository, digest));
        return true;
      },
    },

    uploads: s3UploadStore(s3, layout, { partSize }),

    manifests: {
      async put(repository: string, manifest: ManifestRecord): Promise<void> {
        const metadata: Record<string, string> = {};
        if (manifest.subject) metadata.subject = manifest.subject;
        await s3.putObject(layout.manifest(repository, manifest.digest), manifest.bytes, {
          contentType: manifest.mediaType,
          metadata,
        });
        if (manifest.subject && manifest.referrer) {
          await s3.putObject(
            layout.referrer(repository, manifest.subject, manifest.digest),
            JSON.stringify(manifest.referrer),
            { contentType: "application/json" },
          );
        }
        await s3.putObject(layout.catalogEntry(repository), EMPTY);
      },

      async get(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
        const object = await s3.getBytes(layout.manifest(repository, digest));
        if (!object) return undefined;
        const record: ManifestRecord = {
          digest,
          mediaType: object.contentType ?? "application/octet-stream",
          bytes: object.bytes,
        };
        const subject = object.metadata.subject;
        if (subject) {
          record.subject = subject;
          const entry = await s3.getBytes(layout.referrer(repository, subject, digest));
          if (entry) record.referrer = JSON.parse(decoder.decode(entry.bytes));
        }
        return record;
      },

      async delete(repository: string, digest: Digest): Promise<boolean> {
        const head = await s3.headObject(layout.manifest(repository, digest));
        if (!head) return false;
        await s3.deleteObject(layout.manifest(repository, digest));
        const keys: string[] = [];
        if (head.metadata.subject) {
          keys.push(layout.referrer(repository, head.metadata.subject, digest));
        }
        // Tags pointing to it: a tag's ETag is the MD5 of its body (the digest), so the listing
        // alone finds them; a store with other ETags costs one GET per tag.
        const wanted = md5Etag(digest);
        const prefix = layout.tags(repository);
        for await (const page of s3.listAll({ prefix })) {
          for (const o of page.objects) {
            if (o.etag === wanted) keys.push(o.key);
            else if (!/^"[0-9a-f]{32}"$/.test(o.etag)) {
              const tag = await s3.getBytes(o.key);
              if (tag && decoder.decode(tag.bytes) === digest) keys.push(o.key);
            }
          }
        }
        await s3.deleteObjects(keys);
        await tidyCatalog(repository);
        return true;
      },

      async referrers(repository: string, subject: Digest): Promise<Descriptor[]> {
        const keys = await s3.listKeys(layout.referrers(repository, subject));
        const entries = await mapLimit(keys, 16, (key) => s3.getBytes(key));
        return entries.filter((e) => e !== undefined).map((e) =>
          JSON.parse(decoder.decode(e.bytes))
        );
      },
    },

    tags: {
      async get(repository: string, tag: string): Promise<Digest | undefined> {
        const object = await s3.getBytes(layout.tag(repository, tag));
        return object ? decoder.decode(object.bytes) : undefined;
      },

      async set(
        repository: string,
        tag: string,
        digest: Digest,
        expected?: Digest | null,
      ): Promise<boolean> {
        const key = layout.tag(repository, tag);
        const put = { contentType: "text/plain" };
        if (expected === undefined) return (await s3.putObject(key, digest, put)) !== undefined;
        if (expected === null) {
          return (await s3.putObject(key, digest, { ...put, ifNoneMatch: "*" })) !== undefined;
        }
        const current = await s3.getBytes(key);
        if (!current || decoder.decode(current.bytes) !== expected) return false;
        return (await s3.putObject(key, digest, { ...put, ifMatch: current.etag })) !== undefined;
      },

      async delete(repository: string, tag: string): Promise<boolean> {
        const key = layout.tag(repository, tag);
        if (!(await s3.headObject(key))) return false;
        await s3.deleteObject(key);
        return true;
      },

      async list(repository: string, options: ListOptions): Promise<Page<string> | undefined> {
        const [known, page] = await Promise.all([
          hasManifests(repository),
          listNames(layout.tags(repository), options.after, options.limit),
        ]);
        return known ? page : undefined;
      },
    },

    async repositories(options: ListOptions): Promise<Page<string>> {
      return await listNames(layout.catalog, options.after, options.limit);
    },
  };

  if (options.redirect) {
    const ttl = Math.ceil((options.redirectTtlMs ?? 15 * 60_000) / 1000);
    storage.blobs.redirectUrl = async (repository: string, digest: Digest) => {
      if (!(await s3.headObject(layout.link(repository, digest)))) return undefined;
      return await s3.presignGet(layout.blob(digest), ttl);
    };
  }
  return storage;
}
