/**
 * The registry's error model: one table of OCI error codes, one error class, one function that
 * turns an error into a response. Routes throw {@link RegistryError}; the handler's single catch
 * point calls {@link errorResponse}.
 *
 * @module
 */

/** Every OCI (and Docker registry) error code with its usual status and message. */
export const ERROR_CODES = {
  BLOB_UNKNOWN: [404, "blob unknown to registry"],
  BLOB_UPLOAD_INVALID: [400, "blob upload invalid"],
  BLOB_UPLOAD_UNKNOWN: [404, "blob upload unknown to registry"],
  DIGEST_INVALID: [400, "provided digest did not match uploaded content"],
  MANIFEST_BLOB_UNKNOWN: [400, "manifest references a manifest or blob unknown to registry"],
  MANIFEST_INVALID: [400, "manifest invalid"],
  MANIFEST_UNKNOWN: [404, "manifest unknown to registry"],
  NAME_INVALID: [400, "invalid repository name"],
  NAME_UNKNOWN: [404, "repository name not known to registry"],
  SIZE_INVALID: [400, "provided length did not match content length"],
  UNAUTHORIZED: [401, "authentication required"],
  DENIED: [403, "requested access to the resource is denied"],
  UNSUPPORTED: [405, "the operation is unsupported"],
  TOOMANYREQUESTS: [429, "too many requests"],
  RANGE_INVALID: [416, "invalid content range"],
  TAG_INVALID: [400, "manifest tag did not match URI"],
  PAGINATION_NUMBER_INVALID: [400, "invalid number of results requested"],
  NOT_FOUND: [404, "not found"],
  INTERNAL: [500, "internal server error"],
  UNAVAILABLE: [503, "service unavailable"],
} as const satisfies Record<string, readonly [number, string]>;

/** An OCI error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options of a {@link RegistryError}. */
export interface RegistryErrorOptions {
  /** Overrides the code's usual status (e.g. 413 for SIZE_INVALID, 416 for a range). */
  status?: number;
  /** Overrides the code's usual message. */
  message?: string;
  /** Extra headers for the response (Range, Retry-After, WWW-Authenticate...). */
  headers?: Record<string, string>;
}

/**
 * An error a route throws to answer with an OCI error body.
 *
 * @example
 * ```ts
 * throw new RegistryError("BLOB_UNKNOWN", { digest });
 * throw new RegistryError("SIZE_INVALID", { limit }, { status: 413, message: "manifest too large" });
 * ```
 */
export class RegistryError extends Error {
  /** The OCI error code. */
  readonly code: ErrorCode;
  /** HTTP status of the response. */
  readonly status: number;
  /** The `detail` member of the error body. */
  readonly detail: unknown;
  /** Extra response headers. */
  readonly headers: Record<string, string>;

  /**
   * @param code OCI error code.
   * @param detail Specifics (digest, name, limits...), sent as `detail`.
   * @param options Status, message or header overrides.
   */
  constructor(code: ErrorCode, detail?: unknown, options: RegistryErrorOptions = {}) {
    const [status, message] = ERROR_CODES[code];
    super(options.message ?? message);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? status;
    this.detail = detail ?? null;
    this.headers = options.headers ?? {};
  }
}

/**
 * The response for an error: `{"errors":[{code,message,detail}]}` as application/json, with no
 * body for HEAD requests. Anything that is not a {@link RegistryError} becomes a 500 that shows
 * no internals.
 */
export function errorResponse(error: unknown, method: string, baseHeaders: HeadersInit): Response {
  const e = error instanceof RegistryError ? error : new RegistryError("INTERNAL");
  const headers = new Headers(baseHeaders);
  for (const [k, v] of Object.entries(e.headers)) headers.set(k, v);
  if (method === "HEAD") return new Response(null, { status: e.status, headers });
  const body = JSON.stringify({
    errors: [{ code: e.code, message: e.message, detail: e.detail }],
  });
  headers.set("Content-Type", "application/json");
  headers.set("Content-Length", String(new TextEncoder().encode(body).byteLength));
  return new Response(body, { status: e.status, headers });
}
