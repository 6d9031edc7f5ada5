/**
 * Upload routes: POST (session, single-request push, cross-repository mount), PATCH (chunked
 * with Content-Range, or streamed), PUT (complete, with or without a last chunk), GET (status)
 * and DELETE (cancel). Every byte is hashed as it streams; the digest is verified before
 * `uploads.commit` makes the blob visible.
 *
 * These routes run only when the storage provides the push capability (the registry answers 405
 * otherwise). Expiry is the handler's: a session created more than `uploadTtlMs` ago is unknown
 * here, whatever the storage still holds; the registry purges such sessions now and then.
 *
 * @module
 */
import { contentLength, meter } from "../body.ts";
import type { RequestContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { DIGEST_ALGORITHMS, isValidName, parseDigest } from "../grammar.ts";
import { createHasher, digestStream, type UploadHashState } from "../hashing.ts";
import { parseContentRange } from "../range.ts";
import { empty, uploadRange } from "../responses.ts";
import { type UploadInfo, UploadOffsetError, type UploadStore } from "../storage/types.ts";
import { requireDigest } from "./params.ts";

const BLOB_TYPE = "application/octet-stream";
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;

function uploadUnknown(id: string): RegistryError {
  return new RegistryError("BLOB_UPLOAD_UNKNOWN", { id });
}

/** The upload store: present, since these routes are dispatched only with the push capability. */
function sessions(ctx: RequestContext): UploadStore {
  return ctx.storage.uploads!;
}

/** Whether `upload` was created longer ago than the registry's `uploadTtlMs`. */
function expired(ctx: RequestContext, upload: UploadInfo): boolean {
  return upload.createdAt < Date.now() - ctx.settings.uploadTtlMs;
}

function sessionHeaders(ctx: RequestContext, upload: UploadInfo): Record<string, string> {
  return {
    Location: ctx.urls.upload(ctx.name, upload.id),
    Range: uploadRange(upload.size),
    "Docker-Upload-UUID": upload.id,
  };
}

function outOfOrder(
  ctx: RequestContext,
  id: string,
  size: number,
  message = "chunk is out of order: its start is not the number of bytes received",
): RegistryError {
  return new RegistryError("RANGE_INVALID", { received: size }, {
    status: 416,
    message,
    headers: {
      Location: ctx.urls.upload(ctx.name, id),
      Range: uploadRange(size),
      "Docker-Upload-UUID": id,
    },
  });
}

async function requireUpload(ctx: RequestContext): Promise<UploadInfo> {
  const id = ctx.params.id;
  if (!UPLOAD_ID.test(id)) throw uploadUnknown(id);
  const upload = await sessions(ctx).get(ctx.name, id);
  if (!upload || expired(ctx, upload)) throw uploadUnknown(id);
  return upload;
}

const SESSION_BUSY = "another request is writing to or completing this upload session";

/**
 * Run `write` (a PATCH or PUT of `upload`) alone on its session in this registry: a concurrent
 * PATCH or PUT of the same session answers 416 with the bytes received, as an append that loses
 * the storage's offset check does. Without it, a PATCH landing between a PUT's digest check and
 * its commit would make the committed bytes differ from the verified ones.
 */
async function alone(
  ctx: RequestContext,
  upload: UploadInfo,
  write: () => Promise<Response>,
): Promise<Response> {
  if (ctx.uploadsInUse.has(upload.id)) throw outOfOrder(ctx, upload.id, upload.size, SESSION_BUSY);
  ctx.uploadsInUse.add(upload.id);
  try {
    return await write();
  } finally {
    ctx.uploadsInUse.delete(upload.id);
  }
}

/**
 * Append the request body to `upload`, hashing it with the session's cached hash state when the
 * state is exactly at the session's size. Checks Content-Range (start must equal the bytes
 * received: else 416) and Content-Length against the body.
 */
async function appendBody(ctx: RequestContext, upload: UploadInfo): Promise<UploadInfo> {
  const { request, hashes, name } = ctx;
  const declared = contentLength(request);
  const rangeHeader = request.headers.get("Content-Range");
  let length = declared;
  if (rangeHeader !== null) {
    const range = parseContentRange(rangeHeader);
    if (!range) {
      throw new RegistryError("BLOB_UPLOAD_INVALID", { contentRange: rangeHeader }, {
        message: "malformed Content-Range",
      });
    }
    if (range.start !== upload.size) throw outOfOrder(ctx, upload.id, upload.size);
    length = range.end - range.start + 1;
    if (declared !== undefined && declared !== length) {
      throw new RegistryError("SIZE_INVALID", {
        contentLength: declared,
        contentRange: rangeHeader,
      }, {
        message: "Content-Length does not match Content-Range",
      });
    }
  }
  let state: UploadHashState | undefined = hashes.take(upload.id);
  if (state && state.offset !== upload.size) state = undefined;
  if (!state && upload.size === 0) {
    state = { hasher: createHasher(upload.algorithm), offset: 0, algorithm: upload.algorithm };
  }
  const body = meter(request.body, { hasher: state?.hasher, length });
  let updated: UploadInfo | undefined;
  try {
    updated = await sessions(ctx).append(name, upload.id, upload.size, body);
  } catch (error) {
    if (error instanceof UploadOffsetError) throw outOfOrder(ctx, upload.id, error.size);
    throw error;
  }
  if (!updated) throw uploadUnknown(upload.id);
  if (state) hashes.put(upload.id, { ...state, offset: updated.size });
  return updated;
}

/** The digest of everything the session received, from the cache or by re-reading storage. */
async function uploadedDigest(ctx: RequestContext, upload: UploadInfo, algorithm: string) {
  const state = ctx.hashes.take(upload.id);
  if (state && state.offset === upload.size && state.algorithm === algorithm) {
    return state.hasher.digest();
  }
  let stream;
  try {
    stream = await sessions(ctx).read(ctx.name, upload.id);
  } catch (error) {
    // Another process holds the session (an append in flight): the client retries later.
    if (error instanceof UploadOffsetError) {
      throw outOfOrder(ctx, upload.id, error.size, SESSION_BUSY);
    }
    throw error;
  }
  if (!stream) throw uploadUnknown(upload.id);
  return await digestStream(algorithm, stream as unknown as AsyncIterable<Uint8Array>);
}

/** Verify `digest` against the session's bytes and make the blob visible; 201. */
async function complete(ctx: RequestContext, upload: UploadInfo, digest: string) {
  const { algorithm } = requireDigest(digest);
  const actual = await uploadedDigest(ctx, upload, algorithm);
  if (actual !== digest) {
    // As distribution does: a failed completion ends the session and stores nothing.
    await sessions(ctx).cancel(ctx.name, upload.id);
    throw new RegistryError("DIGEST_INVALID", { expected: digest, actual });
  }
  let blob;
  try {
    blob = await sessions(ctx).commit(ctx.name, upload.id, digest, upload.size);
  } catch (error) {
    // Another process appended to the session, or holds it: nothing was committed.
    if (error instanceof UploadOffsetError) {
      throw outOfOrder(ctx, upload.id, error.size, SESSION_BUSY);
    }
    throw error;
  }
  if (!blob) throw uploadUnknown(upload.id);
  if (blob.size !== upload.size) {
    // The adapter committed other bytes than were verified: one that ignores the contract's
    // `size` (the built-in adapters refuse with UploadOffsetError instead). Hide the blob from
    // this repository and never say 201 (an adapter without delete cannot unlink: the 500 stays).
    await ctx.storage.blobs.unlink?.(ctx.name, digest).catch(() => false);
    throw new Error(
      `upload ${upload.id} committed ${blob.size} bytes as ${digest}, verified ${upload.size}`,
    );
  }
  ctx.observed = { action: "push", manifest: false, digest, size: blob.size, mediaType: BLOB_TYPE };
  return empty(201, {
    Location: ctx.urls.blob(ctx.name, digest),
    "Docker-Content-Digest": digest,
  });
}

async function create(ctx: RequestContext, algorithm: string): Promise<UploadInfo> {
  const upload = await sessions(ctx).create(ctx.name, { algorithm });
  ctx.hashes.put(upload.id, { hasher: createHasher(algorithm), offset: 0, algorithm });
  return upload;
}

/** POST `/v2/<name>/blobs/uploads/`. */
export async function startUpload(ctx: RequestContext): Promise<Response> {
  const { url, storage, name } = ctx;
  const mount = url.searchParams.get("mount");
  const from = url.searchParams.get("from");
  // A failed mount is never an error: the client gets a session instead (spec), as it does when
  // the storage cannot link (no mount capability).
  if (ctx.capabilities.mount && mount && from && parseDigest(mount) && isValidName(from)) {
    if (from !== name && await storage.blobs.stat(from, mount)) {
      const info = await storage.blobs.link!(name, mount);
      if (info) {
        const { size } = info;
        ctx.observed = {
          action: "mount",
          manifest: false,
          digest: mount,
          size,
          fromRepository: from,
        };
        return empty(201, {
          Location: ctx.urls.blob(name, mount),
          "Docker-Content-Digest": mount,
        });
      }
    }
  }
  const digest = url.searchParams.get("digest");
  if (digest !== null) {
    const { algorithm } = requireDigest(digest);
    const upload = await create(ctx, algorithm);
    try {
      const appended = await appendBody(ctx, upload);
      return await complete(ctx, appended, digest);
    } catch (error) {
      await sessions(ctx).cancel(name, upload.id).catch(() => {});
      ctx.hashes.delete(upload.id);
      throw error;
    }
  }
  const algorithm = url.searchParams.get("digest-algorithm") ?? "sha256";
  if (DIGEST_ALGORITHMS[algorithm] === undefined) {
    throw new RegistryError("DIGEST_INVALID", { algorithm }, {
      message: "unsupported digest algorithm",
    });
  }
  const upload = await create(ctx, algorithm);
  return empty(202, sessionHeaders(ctx, upload));
}

/** PATCH `/v2/<name>/blobs/uploads/<id>`: append a chunk (Content-Range) or a stream. */
export async function patchUpload(ctx: RequestContext): Promise<Response> {
  const upload = await requireUpload(ctx);
  return await alone(ctx, upload, async () => {
    const updated = await appendBody(ctx, upload);
    return empty(202, sessionHeaders(ctx, updated));
  });
}

/** PUT `/v2/<name>/blobs/uploads/<id>?digest=`: optional last chunk, then complete. */
export async function putUpload(ctx: RequestContext): Promise<Response> {
  const digest = ctx.url.searchParams.get("digest");
  requireDigest(digest);
  const session = await requireUpload(ctx);
  const { request } = ctx;
  const hasBody = request.body !== null &&
    (contentLength(request) ?? 1) > 0;
  return await alone(ctx, session, async () => {
    let upload = session;
    if (hasBody || request.headers.has("Content-Range")) upload = await appendBody(ctx, upload);
    return await complete(ctx, upload, digest as string);
  });
}

/** GET `/v2/<name>/blobs/uploads/<id>`: 204 with the bytes received as `Range`. */
export async function getUpload(ctx: RequestContext): Promise<Response> {
  const upload = await requireUpload(ctx);
  return empty(204, sessionHeaders(ctx, upload));
}

/**
 * DELETE `/v2/<name>/blobs/uploads/<id>`: cancel. An expired session is unknown (404) like any
 * other, and is dropped on the way.
 */
export async function cancelUpload(ctx: RequestContext): Promise<Response> {
  const id = ctx.params.id;
  const upload = UPLOAD_ID.test(id) ? await sessions(ctx).get(ctx.name, id) : undefined;
  if (!upload) throw uploadUnknown(id);
  const cancelled = await sessions(ctx).cancel(ctx.name, id);
  if (!cancelled || expired(ctx, upload)) {
    ctx.hashes.delete(id);
    throw uploadUnknown(id);
  }
  ctx.hashes.delete(id);
  return empty(204);
}
