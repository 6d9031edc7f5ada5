/**
 * Pushing through a registry's HTTP API, as a client does: a blob through an upload session (POST,
 * then PUT with the digest), a manifest by tag or by digest. The seeder is built on these.
 *
 * @module
 */
import { type OciDescriptor, sha256 } from "./content.ts";
import { expectStatus, send, type Target, v2Path } from "./http.ts";
import type { SeededManifest } from "./seed_types.ts";

const decoder = new TextDecoder();

/**
 * Push one blob: POST an upload session, PUT its bytes with their digest; resolves with its
 * descriptor once the registry answered 201.
 *
 * @example
 * ```ts
 * const d = await pushBlob({ fetcher: registry }, "app", new TextEncoder().encode("hi"), "text/plain");
 * ```
 */
export async function pushBlob(
  target: Target,
  repository: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<OciDescriptor> {
  const digest = sha256(bytes);
  const start = v2Path(target, `${repository}/blobs/uploads/`);
  const session = await expectStatus(await send(target, "POST", start), "POST", start, 202);
  await session.body?.cancel();
  const location = session.headers.get("Location");
  if (!location) throw new Error(`POST ${start} answered 202 without a Location`);
  const url = new URL(location, "http://registry.test");
  url.searchParams.set("digest", digest);
  const put = location.startsWith("http") ? url.href : url.pathname + url.search;
  await putBytes(target, put, bytes, "application/octet-stream");
  return { mediaType, digest, size: bytes.byteLength };
}

/**
 * Push a manifest's exact bytes under each tag (or by digest when there is none); resolves with
 * what was seeded once the registry answered 201 to every PUT. `json` is the manifest as JSON
 * (default: the bytes parsed, `{}` when they are not JSON).
 *
 * @example
 * ```ts
 * const m = await pushManifest({ fetcher: registry }, "app", bytes, MEDIA_TYPES.index, ["1.0"]);
 * m.digest; m.descriptor;
 * ```
 */
export async function pushManifest<J extends SeededManifest["manifest"]>(
  target: Target,
  repository: string,
  bytes: Uint8Array,
  mediaType: string,
  tags: string[],
  json?: J,
): Promise<SeededManifest & { manifest: J }> {
  const digest = sha256(bytes);
  for (const reference of tags.length ? tags : [digest]) {
    await putBytes(
      target,
      v2Path(target, `${repository}/manifests/${reference}`),
      bytes,
      mediaType,
    );
  }
  return {
    repository,
    digest,
    mediaType,
    size: bytes.byteLength,
    bytes,
    tags,
    descriptor: { mediaType, digest, size: bytes.byteLength },
    manifest: json ?? (parseJsonObject(bytes) as J),
  };
}

/** PUT `bytes` with their length and `contentType`; throws unless the answer is 201. */
async function putBytes(
  target: Target,
  path: string,
  bytes: Uint8Array,
  contentType: string,
): Promise<void> {
  const response = await send(target, "PUT", path, {
    body: bytes as Uint8Array<ArrayBuffer>,
    headers: { "Content-Type": contentType, "Content-Length": String(bytes.byteLength) },
  });
  await expectStatus(response, "PUT", path, 201);
  await response.body?.cancel();
}

/**
 * The bytes parsed as JSON, or `{}` when they are not JSON.
 *
 * @example
 * ```ts
 * parseJsonObject(new TextEncoder().encode('{"a":1}')); // { a: 1 }
 * ```
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return {};
  }
}
