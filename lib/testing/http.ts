/**
 * The small HTTP layer the seeding and inspection helpers share: a fetch handler, a base URL to
 * resolve paths against, errors that say which request failed and why, and a manifest GET.
 *
 * @module
 */
import { ACCEPT_ALL_MANIFESTS } from "./media_types.ts";

/** Anything with a Web-standard `fetch(request)`: a registry, a test registry, a proxy. */
export interface Fetcher {
  /** Answer one request. */
  fetch(request: Request): Promise<Response>;
}

/** Where seeding and inspection send their requests. */
export interface Target {
  /** The handler. */
  fetcher: Fetcher;
  /** The registry's mount prefix (`RegistryOptions.basePath`). Default "". */
  basePath?: string;
}

/**
 * The origin in-process requests are addressed to (the handler ignores the host).
 *
 * @example
 * ```ts
 * new Request(new URL("/v2/", IN_PROCESS_ORIGIN)); // http://registry.test/v2/
 * ```
 */
export const IN_PROCESS_ORIGIN = "http://registry.test";

/**
 * A request the registry answered with an unexpected status, while seeding or inspecting.
 *
 * @example
 * ```ts
 * try {
 *   await createSeeder(registry).manifest("app", { layers: [] }, { mediaType: "text/plain" });
 * } catch (e) {
 *   if (e instanceof RegistryResponseError) console.log(e.status, e.code); // 400 MANIFEST_INVALID
 * }
 * ```
 */
export class RegistryResponseError extends Error {
  /** The request's method. */
  readonly method: string;
  /** The request's path and query. */
  readonly path: string;
  /** The response's status. */
  readonly status: number;
  /** The first OCI error code of the body, when it had one. */
  readonly code: string | undefined;
  /** The response body as text (empty for HEAD). */
  readonly body: string;

  /**
   * @param method Request method.
   * @param path Request path and query.
   * @param status Response status.
   * @param body Response body text.
   */
  constructor(method: string, path: string, status: number, body: string) {
    let code: string | undefined;
    let message = "";
    try {
      const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
      code = parsed.errors?.[0]?.code;
      message = parsed.errors?.[0]?.message ?? "";
    } catch {
      // not an OCI error body
    }
    super(
      `${method} ${path} answered ${status}${code ? ` ${code}` : ""}${
        message ? `: ${message}` : ""
      }`,
    );
    this.name = "RegistryResponseError";
    this.method = method;
    this.path = path;
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * `/v2/<rest>` under the target's mount prefix.
 *
 * @example
 * ```ts
 * v2Path({ fetcher: registry, basePath: "/registry" }, "app/tags/list"); // "/registry/v2/app/tags/list"
 * ```
 */
export function v2Path(target: Target, rest: string): string {
  return `${(target.basePath ?? "").replace(/\/+$/, "")}/v2/${rest}`;
}

/**
 * Send one request to the target; `path` is absolute (`/v2/...`) or a `Location` value (relative
 * or absolute URL).
 *
 * @example
 * ```ts
 * const res = await send({ fetcher: registry }, "POST", "/v2/app/blobs/uploads/");
 * ```
 */
export function send(
  target: Target,
  method: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  return target.fetcher.fetch(new Request(new URL(path, IN_PROCESS_ORIGIN), { ...init, method }));
}

/**
 * Throw a {@link RegistryResponseError} unless `response.status` is one of `expected`; the body
 * of a failed response is consumed.
 *
 * @example
 * ```ts
 * await expectStatus(await send(target, "GET", path), "GET", path, 200);
 * ```
 */
export async function expectStatus(
  response: Response,
  method: string,
  path: string,
  ...expected: number[]
): Promise<Response> {
  if (expected.includes(response.status)) return response;
  const body = await response.text().catch(() => "");
  throw new RegistryResponseError(method, path, response.status, body);
}

/** A manifest as served: the response's digest and media type, and the exact bytes. */
export interface ServedManifest {
  /** `Docker-Content-Digest` of the response ("" when absent). */
  digest: string;
  /** Its Content-Type, without parameters ("" when absent). */
  mediaType: string;
  /** The exact bytes. */
  bytes: Uint8Array;
}

/** Options of {@link getManifest}. */
export interface GetManifestOptions {
  /** Answer `undefined` for a 404 instead of throwing. */
  optional?: boolean;
}

/**
 * GET a manifest, accepting every manifest type. Throws a {@link RegistryResponseError} unless
 * the answer is 200 (or, with `optional`, a 404, which answers `undefined`).
 *
 * @example
 * ```ts
 * const served = await getManifest({ fetcher: registry }, "app", "latest", { optional: true });
 * served?.mediaType; // "application/vnd.oci.image.manifest.v1+json"
 * ```
 */
export async function getManifest(
  target: Target,
  repository: string,
  reference: string,
  options: GetManifestOptions = {},
): Promise<ServedManifest | undefined> {
  const path = v2Path(target, `${repository}/manifests/${reference}`);
  const response = await send(target, "GET", path, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
  if (response.status === 404 && options.optional) {
    await response.body?.cancel();
    return undefined;
  }
  await expectStatus(response, "GET", path, 200);
  return {
    digest: response.headers.get("Docker-Content-Digest") ?? "",
    mediaType: (response.headers.get("Content-Type") ?? "").split(";")[0].trim(),
    bytes: new Uint8Array(await response.arrayBuffer()),
  };
}
