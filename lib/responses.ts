/**
 * Small response builders shared by the routes.
 *
 * @module
 */

/** The header every /v2 response carries. */
export const API_VERSION_HEADERS: Readonly<Record<string, string>> = {
  "Docker-Distribution-API-Version": "registry/2.0",
};

const encoder = new TextEncoder();

/** A response with no body (explicit `Content-Length: 0`). */
export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, {
    status,
    headers: { ...API_VERSION_HEADERS, "Content-Length": "0", ...headers },
  });
}

/** A JSON response (no body for HEAD, same headers). */
export function json(
  request: Request,
  value: unknown,
  headers: Record<string, string> = {},
  contentType = "application/json",
): Response {
  const bytes = encoder.encode(JSON.stringify(value));
  const all = {
    ...API_VERSION_HEADERS,
    "Content-Type": contentType,
    "Content-Length": String(bytes.byteLength),
    ...headers,
  };
  return new Response(request.method === "HEAD" ? null : bytes, { status: 200, headers: all });
}

/** The `Range` header value for an upload that has received `size` bytes. */
export function uploadRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}
