/**
 * Manifest routes: PUT (validate, verify, store, tag, index the referrer), GET/HEAD by tag or
 * digest (exact bytes and media type), DELETE by tag (untag) or digest (manifest and its tags).
 *
 * @module
 */
import { matchesIfNoneMatch } from "../conditional.ts";
import { contentLength, readBounded } from "../body.ts";
import type { RequestContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { isValidTag, parseDigest } from "../grammar.ts";
import { digestBytes } from "../hashing.ts";
import { parseManifest, referrerDescriptor } from "../manifest.ts";
import { bareMediaType } from "../media_types.ts";
import { API_VERSION_HEADERS, empty } from "../responses.ts";
import type { ManifestRecord } from "../storage/types.ts";
import { type Reference, requireReference, requireTag } from "./params.ts";

function manifestUnknown(reference: string): RegistryError {
  return new RegistryError("MANIFEST_UNKNOWN", { reference });
}

/**
 * A reference for reading or deleting: a tag outside the grammar cannot name anything stored, so
 * it is MANIFEST_UNKNOWN (404, as the conformance suite requires), not a 400.
 */
function lookupReference(reference: string): Reference {
  if (reference.includes(":")) return requireReference(reference);
  if (!isValidTag(reference)) throw manifestUnknown(reference);
  return { tag: reference };
}

/** The stored manifest a reference names, or MANIFEST_UNKNOWN. */
async function resolve(ctx: RequestContext, reference: string): Promise<ManifestRecord> {
  const ref = lookupReference(reference);
  const digest = ref.digest ?? await ctx.storage.tags.get(ctx.name, ref.tag);
  const record = digest === undefined
    ? undefined
    : await ctx.storage.manifests.get(ctx.name, digest);
  if (!record) throw manifestUnknown(reference);
  return record;
}

/** What a manifest pull touched, for the request observer. */
function pulled(record: ManifestRecord, reference: string): RequestContext["observed"] {
  const { digest, mediaType } = record;
  const tag = reference === digest ? undefined : reference;
  return { action: "pull", manifest: true, digest, size: record.bytes.byteLength, mediaType, tag };
}

/** GET or HEAD `/v2/<name>/manifests/<reference>`. */
export async function getManifest(ctx: RequestContext): Promise<Response> {
  const record = await resolve(ctx, ctx.params.reference);
  const etag = `"${record.digest}"`;
  const headers = {
    ...API_VERSION_HEADERS,
    "Content-Type": record.mediaType,
    "Content-Length": String(record.bytes.byteLength),
    "Docker-Content-Digest": record.digest,
    "ETag": etag,
  };
  if (matchesIfNoneMatch(ctx.request.headers.get("If-None-Match"), etag)) {
    return new Response(null, { status: 304, headers });
  }
  const body = ctx.request.method === "HEAD" ? null : record.bytes as Uint8Array<ArrayBuffer>;
  if (body) ctx.observed = pulled(record, ctx.params.reference);
  return new Response(body, { status: 200, headers });
}

/** Throw MANIFEST_BLOB_UNKNOWN for the first reference `exists` denies. */
async function requireAll(
  digests: string[],
  exists: (digest: string) => Promise<boolean>,
): Promise<void> {
  const seen = new Set<string>();
  for (const digest of digests) {
    if (seen.has(digest)) continue;
    seen.add(digest);
    if (!parseDigest(digest) || !(await exists(digest))) {
      throw new RegistryError("MANIFEST_BLOB_UNKNOWN", { digest });
    }
  }
}

/**
 * PUT `/v2/<name>/manifests/<reference>[?tag=...]`. Dispatched only when the storage provides the
 * push capability.
 */
export async function putManifest(ctx: RequestContext): Promise<Response> {
  const { request, storage, name, settings, url } = ctx;
  const ref = requireReference(ctx.params.reference);
  const tags = new Set<string>(url.searchParams.getAll("tag").map(requireTag));
  if (ref.tag !== undefined) tags.add(ref.tag);
  const declared = contentLength(request);
  if (declared !== undefined && declared > settings.maxManifestSize) {
    throw new RegistryError("SIZE_INVALID", { limit: settings.maxManifestSize }, {
      status: 413,
      message: "manifest exceeds the size limit",
    });
  }
  const bytes = await readBounded(request.body, settings.maxManifestSize);
  const parsed = parseManifest(bytes, bareMediaType(request.headers.get("Content-Type")));
  const algorithm = ref.digest ? ref.digest.slice(0, ref.digest.indexOf(":")) : "sha256";
  const digest = digestBytes(algorithm, bytes);
  if (ref.digest !== undefined && ref.digest !== digest) {
    throw new RegistryError("DIGEST_INVALID", { expected: ref.digest, actual: digest });
  }
  // With garbage collection, the touch both checks a reference and refreshes its link, so a
  // collection that began before this PUT keeps what the manifest references (lib/gc).
  await requireAll(
    parsed.blobs,
    ctx.capabilities.gc
      ? (d) => storage.blobs.touch!(name, d)
      : async (d) => (await storage.blobs.stat(name, d)) !== undefined,
  );
  if (!settings.sparseIndexes) {
    await requireAll(
      parsed.manifests,
      async (d) => (await storage.manifests.get(name, d)) !== undefined,
    );
  }
  const record: ManifestRecord = { digest, mediaType: parsed.mediaType, bytes };
  if (parsed.subject !== undefined) {
    record.subject = parsed.subject;
    record.referrer = referrerDescriptor(parsed, digest, bytes.byteLength);
  }
  await storage.manifests.put!(name, record);
  for (const tag of tags) await storage.tags.set!(name, tag, digest);
  const headers = new Headers({
    ...API_VERSION_HEADERS,
    "Content-Length": "0",
    Location: ctx.urls.manifest(name, digest),
    "Docker-Content-Digest": digest,
  });
  if (parsed.subject !== undefined && ctx.capabilities.referrers) {
    headers.set("OCI-Subject", parsed.subject);
  }
  for (const tag of tags) headers.append("OCI-Tag", tag);
  const tag = ref.tag ?? tags.values().next().value;
  const { mediaType } = parsed;
  ctx.observed = { action: "push", manifest: true, digest, size: bytes.byteLength, mediaType, tag };
  return new Response(null, { status: 201, headers });
}

/**
 * DELETE `/v2/<name>/manifests/<reference>`. Dispatched only when the storage provides the delete
 * capability.
 */
export async function deleteManifest(ctx: RequestContext): Promise<Response> {
  const ref = lookupReference(ctx.params.reference);
  const { storage, name } = ctx;
  const deleted = ref.digest !== undefined
    ? await storage.manifests.delete!(name, ref.digest)
    : await storage.tags.delete!(name, ref.tag);
  if (!deleted) throw manifestUnknown(ctx.params.reference);
  ctx.observed = { action: "delete", manifest: true, digest: ref.digest, tag: ref.tag };
  return empty(202);
}
