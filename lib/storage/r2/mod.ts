/**
 * The R2 storage adapter: a registry inside a Cloudflare Worker over an R2 bucket binding
 * (`env.MY_BUCKET`), with every optional capability (push, mount, delete, referrers, catalog,
 * purge). Every piece of state lives in the bucket, so any isolate serves any request.
 *
 * - Blobs: the bytes are stored as segments, one object per append (segments.ts), and a blob is
 *   a small record listing them (`blobs/<algorithm>/<hex>`), written at commit after the handler
 *   verified the digest; a repository sees it through a link. Reads stream the segments (ranges
 *   fetch only the segments they cover, with ranged GETs).
 * - Uploads (uploads.ts): session state in the bucket, conditional writes, appends streamed into
 *   multipart parts of bounded size.
 * - Tags are small objects whose body is the digest; compare-and-swap uses `onlyIf`
 *   (`etagDoesNotMatch: "*"` for "must not exist", `etagMatches` on the etag read for "must be X").
 * - Tags list only the repository's `_tags/` keys; the catalog lists one marker per repository,
 *   written at manifest PUT and removed with its last manifest. Neither walks the bucket.
 *
 * Only Web APIs and the binding: nothing here imports `node:*` (the registry core's hashing uses
 * `node:crypto`, which workerd provides with the `nodejs_compat` flag).
 *
 * @module
 */
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
import type { R2Bucket } from "./binding.ts";
import { r2Layout } from "./layout.ts";
import { deleteKeys, MIN_PART_SIZE, readSegments } from "./segments.ts";
import { type BlobRecord, r2UploadStore } from "./uploads.ts";

export type * from "./binding.ts";

/** Options of {@link r2Storage}. */
export interface R2StorageOptions {
  /** Key prefix inside the bucket (several registries can share one bucket). Default: none. */
  prefix?: string;
  /**
   * Multipart part size in bytes: default 10 MiB, at least 5 MiB (R2's minimum). An append
   * holds about one part in memory (two while one is handed to the binding).
   */
  partSize?: number;
}

/** Every key under `prefix` (a listing walked to its end). */
async function listKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/** workerd's stream that carries its length (so the response keeps its Content-Length). */
declare const FixedLengthStream:
  | (new (length: number) => TransformStream<Uint8Array, Uint8Array>)
  | undefined;

/**
 * `stream` marked as `length` bytes long where the runtime can (workerd's FixedLengthStream:
 * without it, a Worker answers a stream made in JavaScript with chunked encoding and no
 * Content-Length); as is elsewhere.
 */
function withLength(
  stream: ReadableStream<Uint8Array>,
  length: number,
): ReadableStream<Uint8Array> {
  if (typeof FixedLengthStream !== "function") return stream;
  const fixed = new FixedLengthStream(length);
  stream.pipeTo(fixed.writable).catch(() => {});
  return fixed.readable;
}

/**
 * A storage adapter over one R2 bucket binding.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { r2Storage } from "fetch-registry/r2";
 * export default {
 *   fetch: (request: Request, env: { REGISTRY_BUCKET: R2Bucket }) =>
 *     createRegistry({ storage: r2Storage(env.REGISTRY_BUCKET) }).fetch(request),
 * };
 * ```
 */
export function r2Storage(bucket: R2Bucket, options: R2StorageOptions = {}): FullStorage {
  const partSize = options.partSize ?? 10 * 1024 * 1024;
  if (!(partSize >= MIN_PART_SIZE)) {
    throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes (R2's minimum)`);
  }
  const layout = r2Layout(options.prefix ?? "");

  /** Up to `limit` names (keys minus `prefix`) strictly after `after`. */
  async function listNames(
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<Page<string>> {
    const wanted = Math.max(0, Math.floor(limit));
    const items: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await bucket.list({
        prefix,
        cursor,
        startAfter: cursor || after === undefined ? undefined : prefix + after,
        limit: Math.min(1000, wanted + 1),
      });
      for (const o of page.objects) {
        if (items.length === wanted) return { items, more: true };
        items.push(o.key.slice(prefix.length));
      }
      if (!page.truncated || !page.cursor) return { items, more: false };
      cursor = page.cursor;
    }
  }

  async function hasManifests(repository: string): Promise<boolean> {
    const page = await bucket.list({ prefix: layout.manifests(repository), limit: 1 });
    return page.objects.length > 0;
  }

  /** Remove the catalog marker if the repository holds no manifest any more. */
  async function tidyCatalog(repository: string): Promise<void> {
    if (await hasManifests(repository)) return;
    await bucket.delete(layout.catalogEntry(repository));
    // A manifest put by another isolate meanwhile gets its marker back.
    if (await hasManifests(repository)) await bucket.put(layout.catalogEntry(repository), "");
  }

  async function statLink(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
    const link = await bucket.head(layout.link(repository, digest));
    return link ? { digest, size: Number(link.customMetadata?.size ?? 0) } : undefined;
  }

  return {
    blobs: {
      stat: statLink,

      async read(
        repository: string,
        digest: Digest,
        range?: ByteRange,
      ): Promise<BlobBody | undefined> {
        const [link, object] = await Promise.all([
          bucket.head(layout.link(repository, digest)),
          bucket.get(layout.blob(digest)),
        ]);
        if (!link || !object) return undefined;
        const record: BlobRecord = JSON.parse(await object.text());
        if (record.size === 0) return new ReadableStream({ start: (c) => c.close() });
        const start = range?.start ?? 0;
        const end = range?.end ?? record.size - 1;
        if (record.segments.length === 1) {
          const only = record.segments[0];
          const object = await bucket.get(only.key, {
            range: { offset: start, length: end - start + 1 },
          });
          if (!object) throw new Error(`segment ${only.key} is missing`);
          return object.body;
        }
        return withLength(readSegments(bucket, record.segments, start, end), end - start + 1);
      },

      async link(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
        const content = await bucket.head(layout.blob(digest));
        if (!content) return undefined;
        const size = Number(content.customMetadata?.size ?? 0);
        await bucket.put(layout.link(repository, digest), "", {
          customMetadata: { size: String(size) },
        });
        return { digest, size };
      },

      async unlink(repository: string, digest: Digest): Promise<boolean> {
        if (!(await bucket.head(layout.link(repository, digest)))) return false;
        await bucket.delete(layout.link(repository, digest));
        return true;
      },
    },

    uploads: r2UploadStore(bucket, layout, partSize),

    manifests: {
      async put(repository: string, manifest: ManifestRecord): Promise<void> {
        const customMetadata: Record<string, string> = {};
        if (manifest.subject) customMetadata.subject = manifest.subject;
        await bucket.put(layout.manifest(repository, manifest.digest), manifest.bytes, {
          httpMetadata: { contentType: manifest.mediaType },
          customMetadata,
        });
        if (manifest.subject && manifest.referrer) {
          await bucket.put(
            layout.referrer(repository, manifest.subject, manifest.digest),
            JSON.stringify(manifest.referrer),
            { httpMetadata: { contentType: "application/json" } },
          );
        }
        await bucket.put(layout.catalogEntry(repository), "");
      },

      async get(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
        const object = await bucket.get(layout.manifest(repository, digest));
        if (!object) return undefined;
        const record: ManifestRecord = {
          digest,
          mediaType: object.httpMetadata?.contentType ?? "application/octet-stream",
          bytes: new Uint8Array(await object.arrayBuffer()),
        };
        const subject = object.customMetadata?.subject;
        if (subject) {
          record.subject = subject;
          const entry = await bucket.get(layout.referrer(repository, subject, digest));
          if (entry) record.referrer = JSON.parse(await entry.text());
        }
        return record;
      },

      async delete(repository: string, digest: Digest): Promise<boolean> {
        const head = await bucket.head(layout.manifest(repository, digest));
        if (!head) return false;
        await bucket.delete(layout.manifest(repository, digest));
        const keys: string[] = [];
        const subject = head.customMetadata?.subject;
        if (subject) keys.push(layout.referrer(repository, subject, digest));
        // Tags pointing to it: each tag carries its digest in its metadata, so the listing
        // alone finds them.
        let cursor: string | undefined;
        do {
          const page = await bucket.list({
            prefix: layout.tags(repository),
            cursor,
            include: ["customMetadata"],
          });
          for (const o of page.objects) {
            let value = o.customMetadata?.digest;
            if (value === undefined) value = await (await bucket.get(o.key))?.text();
            if (value === digest) keys.push(o.key);
          }
          cursor = page.truncated ? page.cursor : undefined;
        } while (cursor);
        await deleteKeys(bucket, keys);
        await tidyCatalog(repository);
        return true;
      },

      async referrers(repository: string, subject: Digest): Promise<Descriptor[]> {
        const keys = await listKeys(bucket, layout.referrers(repository, subject));
        const entries = await Promise.all(keys.map((key) => bucket.get(key)));
        const out: Descriptor[] = [];
        for (const entry of entries) if (entry) out.push(JSON.parse(await entry.text()));
        return out;
      },
    },

    tags: {
      async get(repository: string, tag: string): Promise<Digest | undefined> {
        const object = await bucket.get(layout.tag(repository, tag));
        return object ? await object.text() : undefined;
      },

      async set(
        repository: string,
        tag: string,
        digest: Digest,
        expected?: Digest | null,
      ): Promise<boolean> {
        const key = layout.tag(repository, tag);
        const options = {
          httpMetadata: { contentType: "text/plain" },
          customMetadata: { digest },
        };
        if (expected === undefined) return (await bucket.put(key, digest, options)) !== null;
        if (expected === null) {
          const put = await bucket.put(key, digest, {
            ...options,
            onlyIf: { etagDoesNotMatch: "*" },
          });
          return put !== null;
        }
        const current = await bucket.get(key);
        if (!current || (await current.text()) !== expected) return false;
        const put = await bucket.put(key, digest, {
          ...options,
          onlyIf: { etagMatches: current.etag },
        });
        return put !== null;
      },

      async delete(repository: string, tag: string): Promise<boolean> {
        if (!(await bucket.head(layout.tag(repository, tag)))) return false;
        await bucket.delete(layout.tag(repository, tag));
        return true;
      },

      async list(repository: string, options: ListOptions): Promise<Page<string> | undefined> {
        if (!(await hasManifests(repository))) return undefined;
        return await listNames(layout.tags(repository), options.after, options.limit);
      },
    },

    repositories(options: ListOptions): Promise<Page<string>> {
      return listNames(layout.catalog, options.after, options.limit);
    },
  };
}
