/**
 * A tiny in-process HTTP client for the protocol suite: builds `Request`s, calls a fetch handler
 * directly (no sockets), reads the whole answer once, and checks what must hold for every answer
 * (`Docker-Distribution-API-Version` on every `/v2` response, no body on HEAD).
 *
 * @module
 */
import assert from "node:assert/strict";
import { digestOf } from "./oci.ts";

/** Anything with a fetch handler (a registry). */
export interface FetchHandler {
  /** Answer one request. */
  fetch(request: Request): Promise<Response>;
}

/** A fully read response. */
export interface Answer {
  /** The request's method. */
  method: string;
  /** The request's path (with query). */
  path: string;
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The whole body. */
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  json(): unknown;
}

/** Options of one request. */
export interface CallOptions {
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body: bytes, text, or a stream (sent with no Content-Length). */
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
}

/** The origin requests are sent to (never contacted: the handler is called directly). */
export const ORIGIN = "http://registry.test";

/**
 * A stream that yields `chunks` one at a time (a body with no Content-Length, like a streamed
 * chunked-transfer upload).
 *
 * @example
 * ```ts
 * streamOf([new Uint8Array([1]), new Uint8Array([2])]);
 * ```
 */
export function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
}

/** A client bound to one handler. */
export interface Client {
  /** Send a request and read the whole answer. */
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
}

/**
 * Bind a client to a handler.
 *
 * @example
 * ```ts
 * const c = client(createRegistry());
 * const res = await c.call("GET", "/v2/");
 * ```
 */
export function client(handler: FetchHandler): Client {
  return {
    async call(method, path, options = {}) {
      const init: RequestInit & { duplex?: string } = { method, headers: options.headers };
      if (options.body !== undefined) {
        init.body = options.body as BodyInit;
        if (options.body instanceof ReadableStream) init.duplex = "half";
      }
      const response = await handler.fetch(new Request(ORIGIN + path, init));
      assert.ok(response instanceof Response, `${method} ${path}: the handler answered a Response`);
      const body = new Uint8Array(await response.arrayBuffer());
      const text = new TextDecoder().decode(body);
      const where = `${method} ${path} → ${response.status}`;
      if (new URL(ORIGIN + path).pathname.includes("/v2")) {
        assert.equal(
          response.headers.get("Docker-Distribution-API-Version"),
          "registry/2.0",
          `${where}: Docker-Distribution-API-Version on every /v2 response`,
        );
      }
      if (method === "HEAD") assert.equal(body.length, 0, `${where}: a HEAD answer has no body`);
      return {
        method,
        path,
        status: response.status,
        headers: response.headers,
        body,
        text,
        json: () => JSON.parse(text),
      };
    },
  };
}

/** One OCI error entry. */
export interface OciError {
  /** Error code. */
  code: string;
  /** Message. */
  message?: string;
  /** Detail. */
  detail?: unknown;
}

/**
 * Assert an OCI error answer: the status, a JSON `{"errors":[...]}` body whose first code is one
 * of `codes` (no body for HEAD). Answers the errors.
 *
 * @example
 * ```ts
 * expectError(res, 404, "BLOB_UNKNOWN");
 * ```
 */
export function expectError(res: Answer, status: number, codes: string | string[]): OciError[] {
  const allowed = Array.isArray(codes) ? codes : [codes];
  const where = `${res.method} ${res.path}`;
  assert.equal(
    res.status,
    status,
    `${where}: status ${status} expected, got ${res.status}: ${res.text}`,
  );
  if (res.method === "HEAD") return [];
  assert.match(
    res.headers.get("Content-Type") ?? "",
    /^application\/json/,
    `${where}: an error body is application/json`,
  );
  let parsed: unknown;
  try {
    parsed = res.json();
  } catch {
    assert.fail(`${where}: error body is not JSON: ${res.text.slice(0, 200)}`);
  }
  const errors = (parsed as { errors?: unknown }).errors;
  assert.ok(
    Array.isArray(errors) && errors.length > 0,
    `${where}: body has a non-empty errors array`,
  );
  const first = errors[0] as OciError;
  assert.ok(
    allowed.includes(first.code),
    `${where}: error code ${first.code} expected to be one of ${allowed.join(", ")}`,
  );
  assert.equal(typeof first.message, "string", `${where}: error has a message`);
  return errors as OciError[];
}

/**
 * Assert a status (with the body in the failure message).
 *
 * @example
 * ```ts
 * expectStatus(res, 201);
 * ```
 */
export function expectStatus(res: Answer, ...statuses: number[]): void {
  assert.ok(
    statuses.includes(res.status),
    `${res.method} ${res.path}: status ${statuses.join(" or ")} expected, got ${res.status}: ${
      res.text.slice(0, 300)
    }`,
  );
}

/**
 * The path (and query) of a Location header, relative or absolute.
 *
 * @example
 * ```ts
 * locationOf(res); // "/v2/a/blobs/uploads/xyz?state=…"
 * ```
 */
export function locationOf(res: Answer): string {
  const location = res.headers.get("Location");
  assert.ok(location, `${res.method} ${res.path} → ${res.status}: has a Location header`);
  const url = new URL(location, ORIGIN);
  return url.pathname + url.search;
}

/**
 * Append query parameters to a path that may already carry some.
 *
 * @example
 * ```ts
 * withQuery("/v2/a/blobs/uploads/x?s=1", { digest: "sha256:…" });
 * ```
 */
export function withQuery(path: string, params: Record<string, string>): string {
  const url = new URL(path, ORIGIN);
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
  return url.pathname + url.search;
}

/**
 * Start an upload session in `name` and answer its location.
 *
 * @example
 * ```ts
 * const location = await startUpload(c, "a");
 * ```
 */
export async function startUpload(c: Client, name: string, query = ""): Promise<string> {
  const res = await c.call("POST", `/v2/${name}/blobs/uploads/${query}`);
  expectStatus(res, 202);
  return locationOf(res);
}

/**
 * Push a blob monolithically (POST then PUT with the whole body) and answer its digest.
 *
 * @example
 * ```ts
 * const digest = await pushBlob(c, "a", utf8("hello"));
 * ```
 */
export async function pushBlob(c: Client, name: string, bytes: Uint8Array): Promise<string> {
  const digest = digestOf(bytes);
  const location = await startUpload(c, name);
  const res = await c.call("PUT", withQuery(location, { digest }), {
    headers: { "Content-Type": "application/octet-stream" },
    body: bytes,
  });
  expectStatus(res, 201);
  return digest;
}

/** A manifest to push. */
export interface ManifestLike {
  /** Exact bytes. */
  bytes: Uint8Array;
  /** Content-Type to send. */
  mediaType: string;
  /** Digest. */
  digest: string;
}

/**
 * PUT a manifest under a reference (tag or digest; default its digest) and answer the response.
 *
 * @example
 * ```ts
 * await putManifest(c, "a", manifest, "latest");
 * ```
 */
export function putManifest(
  c: Client,
  name: string,
  manifest: ManifestLike,
  reference: string = manifest.digest,
  contentType: string = manifest.mediaType,
): Promise<Answer> {
  return c.call("PUT", `/v2/${name}/manifests/${reference}`, {
    headers: { "Content-Type": contentType },
    body: manifest.bytes,
  });
}

/**
 * PUT a manifest and assert 201.
 *
 * @example
 * ```ts
 * await pushManifest(c, "a", manifest, "v1");
 * ```
 */
export async function pushManifest(
  c: Client,
  name: string,
  manifest: ManifestLike,
  reference: string = manifest.digest,
): Promise<Answer> {
  const res = await putManifest(c, name, manifest, reference);
  expectStatus(res, 201);
  return res;
}
