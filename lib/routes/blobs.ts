/**
 * Blob routes: GET/HEAD (whole, ranged, conditional, optionally redirected) and DELETE.
 *
 * @module
 */
import type { RequestContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { parseRange } from "../range.ts";
import { API_VERSION_HEADERS, empty } from "../responses.ts";
import { requireDigest } from "./params.ts";
import { matchesIfNoneMatch } from "../conditional.ts";

const BLOB = "application/octet-stream";

function blobUnknown(digest: string): RegistryError {
  return new RegistryError("BLOB_UNKNOWN", { digest });
}

/** GET or HEAD `/v2/<name>/blobs/<digest>`. */
export async function getBlob(ctx: RequestContext): Promise<Response> {
  const { digest } = requireDigest(ctx.params.digest);
  const { request, storage, name } = ctx;
  const info = await storage.blobs.stat(name, digest);
  if (!info) throw blobUnknown(digest);
  const etag = `"${digest}"`;
  const headers: Record<string, string> = {
    ...API_VERSION_HEADERS,
    "Content-Type": BLOB,
    "Docker-Content-Digest": digest,
    "ETag": etag,
    "Accept-Ranges": "bytes",
    "Cache-Control": "max-age=31536000",
  };
  if (matchesIfNoneMatch(request.headers.get("If-None-Match"), etag)) {
    return new Response(null, { status: 304, headers });
  }
  // Range is defined for GET only: HEAD ignores it (RFC 9110 §14.2) and describes the whole blob.
  const rangeHeader = request.method === "GET" ? request.headers.get("Range") : null;
  const range = rangeHeader === null ? undefined : parseRange(rangeHeader, info.size);
  if (range === "unsatisfiable") {
    throw new RegistryError("RANGE_INVALID", { range: rangeHeader, size: info.size }, {
      status: 416,
      message: "requested range not satisfiable",
      headers: { "Content-Range": `bytes */${info.size}` },
    });
  }
  if (request.method === "HEAD") {
    headers["Content-Length"] = String(info.size);
    return new Response(null, { status: 200, headers });
  }
  if (!range && storage.blobs.redirectUrl) {
    const location = await storage.blobs.redirectUrl(name, digest);
    if (location) {
      ctx.observed = { action: "pull", manifest: false, digest, size: info.size, mediaType: BLOB };
      return empty(307, { ...headers, Location: location });
    }
  }
  const body = await storage.blobs.read(name, digest, range);
  if (!body) throw blobUnknown(digest);
  ctx.observed = { action: "pull", manifest: false, digest, size: info.size, mediaType: BLOB };
  if (range) {
    headers["Content-Range"] = `bytes ${range.start}-${range.end}/${info.size}`;
    headers["Content-Length"] = String(range.end - range.start + 1);
    return new Response(body, { status: 206, headers });
  }
  headers["Content-Length"] = String(info.size);
  return new Response(body, { status: 200, headers });
}

/**
 * DELETE `/v2/<name>/blobs/<digest>`: removes the repository's link; content stays stored.
 * Dispatched only when the storage provides the delete capability.
 */
export async function deleteBlob(ctx: RequestContext): Promise<Response> {
  const { digest } = requireDigest(ctx.params.digest);
  if (!(await ctx.storage.blobs.unlink!(ctx.name, digest))) throw blobUnknown(digest);
  ctx.observed = { action: "delete", manifest: false, digest };
  return empty(202);
}
