/**
 * The README's example adapter ("Writing a storage adapter"): append-only storage over Maps.
 * tests/example_adapter.test.ts checks that the README shows exactly this code.
 *
 * @module
 */
import {
  type BlobInfo,
  type ByteRange,
  type CreateUploadOptions,
  type ListOptions,
  type ManifestRecord,
  type UploadInfo,
  UploadOffsetError,
} from "../../mod.ts";

/** Append-only storage in memory: push and pull; no delete, mount, referrers or catalog. */
export function appendOnlyStorage() {
  const blobs = new Map<string, Uint8Array<ArrayBuffer>>(); // digest → bytes, stored once
  const links = new Map<string, Set<string>>(); // repository → digests it may read
  const manifests = new Map<string, ManifestRecord>(); // "repository@digest" → manifest
  const repositories = new Set<string>(); // repositories holding a manifest
  const tags = new Map<string, Map<string, string>>(); // repository → tag → digest
  const sessions = new Map<string, { info: UploadInfo; chunks: Uint8Array[]; busy: boolean }>();

  const linked = (repository: string, digest: string) =>
    links.get(repository)?.has(digest) ? blobs.get(digest) : undefined;
  const session = (repository: string, id: string) => {
    const found = sessions.get(id);
    return found?.info.repository === repository ? found : undefined;
  };
  const concat = (chunks: Uint8Array[]) => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    chunks.reduce((at, c) => (out.set(c, at), at + c.byteLength), 0);
    return out;
  };

  return {
    blobs: {
      async stat(repository: string, digest: string): Promise<BlobInfo | undefined> {
        const bytes = linked(repository, digest);
        return bytes && { digest, size: bytes.byteLength };
      },
      async read(repository: string, digest: string, range?: ByteRange) {
        const bytes = linked(repository, digest);
        if (!bytes) return undefined;
        return new Blob([range ? bytes.subarray(range.start, range.end + 1) : bytes]);
      },
    },
    uploads: {
      async create(repository: string, { algorithm }: CreateUploadOptions) {
        const id = crypto.randomUUID().replaceAll("-", "");
        const info = { id, repository, size: 0, algorithm, createdAt: Date.now() };
        sessions.set(id, { info, chunks: [], busy: false });
        return { ...info };
      },
      async get(repository: string, id: string) {
        const found = session(repository, id);
        return found && { ...found.info };
      },
      async append(repository: string, id: string, at: number, data: AsyncIterable<Uint8Array>) {
        const found = session(repository, id);
        if (!found) return undefined;
        if (found.busy || at !== found.info.size) throw new UploadOffsetError(found.info.size);
        found.busy = true;
        try {
          const received: Uint8Array[] = []; // all or nothing: kept only if `data` ends well
          for await (const chunk of data) received.push(chunk);
          if (sessions.get(id) !== found) return undefined; // cancelled meanwhile
          found.chunks.push(...received);
          found.info.size += received.reduce((n, c) => n + c.byteLength, 0);
          return { ...found.info };
        } finally {
          found.busy = false;
        }
      },
      async read(repository: string, id: string) {
        const found = session(repository, id);
        return found && new Blob([concat(found.chunks)]).stream();
      },
      async commit(repository: string, id: string, digest: string, size?: number) {
        const found = session(repository, id);
        if (!found) return undefined;
        if (size !== undefined && size !== found.info.size) {
          throw new UploadOffsetError(found.info.size);
        }
        sessions.delete(id);
        if (!blobs.has(digest)) blobs.set(digest, concat(found.chunks));
        links.set(repository, (links.get(repository) ?? new Set()).add(digest));
        return { digest, size: found.info.size };
      },
      async cancel(repository: string, id: string) {
        return session(repository, id) !== undefined && sessions.delete(id);
      },
    },
    manifests: {
      async get(repository: string, digest: string) {
        return manifests.get(`${repository}@${digest}`);
      },
      async put(repository: string, manifest: ManifestRecord) {
        manifests.set(`${repository}@${manifest.digest}`, manifest);
        repositories.add(repository);
      },
    },
    tags: {
      async get(repository: string, tag: string) {
        return tags.get(repository)?.get(tag);
      },
      async set(repository: string, tag: string, digest: string, expected?: string | null) {
        const known = tags.get(repository) ?? new Map<string, string>();
        if (expected !== undefined && (known.get(tag) ?? null) !== expected) return false;
        tags.set(repository, known.set(tag, digest));
        return true;
      },
      async list(repository: string, { after, limit }: ListOptions) {
        if (!repositories.has(repository)) return undefined;
        const names = [...(tags.get(repository)?.keys() ?? [])];
        const rest = names.filter((tag) => after === undefined || tag > after).sort();
        return { items: rest.slice(0, limit), more: rest.length > limit };
      },
    },
  };
}
