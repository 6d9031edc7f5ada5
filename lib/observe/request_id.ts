/**
 * Request ids: taken from an incoming `X-Request-Id` when it is sane, generated otherwise, and
 * remembered per Request object so the access log, events and the response header agree.
 *
 * @module
 */

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const ids = new WeakMap<Request, string>();
const origins = new WeakMap<Request, Request>();

/** The header a request id travels in, both ways. */
export const REQUEST_ID_HEADER = "X-Request-Id";

/**
 * The id of `request`: the one already assigned, else its `X-Request-Id` when that is 1-128
 * characters of `A-Za-z0-9._:@/+=-` (anything else, which could forge log lines, is replaced),
 * else a new random UUID. The same Request always gets the same id.
 *
 * @example
 * ```ts
 * const id = requestId(new Request("http://x/v2/", { headers: { "X-Request-Id": "abc" } }));
 * // "abc"
 * ```
 */
export function requestId(request: Request): string {
  let id = ids.get(request);
  if (id === undefined) {
    const given = request.headers.get(REQUEST_ID_HEADER);
    id = given !== null && SANE.test(given) ? given : crypto.randomUUID();
    ids.set(request, id);
  }
  return id;
}

/**
 * Give `copy` (a Request rebuilt from `original`) the id `original` has, if it has one, and
 * remember `original` as its {@link originalRequest}.
 */
export function inheritRequestId(original: Request, copy: Request): void {
  const id = ids.get(original);
  if (id !== undefined) ids.set(copy, id);
  origins.set(copy, originalRequest(original));
}

/**
 * The Request a wrapper rebuilt `request` from (through {@link inheritRequestId}), followed back
 * to the first; `request` itself when it was not rebuilt. What a server recorded about the
 * request it received (its client address) is found on that one.
 *
 * @example
 * ```ts
 * const clientAddress = (request: Request) => remoteAddress(originalRequest(request));
 * ```
 */
export function originalRequest(request: Request): Request {
  return origins.get(request) ?? request;
}

/**
 * Wrap a fetch handler so every response carries the request's id as `X-Request-Id`.
 *
 * @example
 * ```ts
 * const handler = withRequestId(createRegistry());
 * const res = await handler.fetch(new Request("http://x/v2/"));
 * res.headers.get("X-Request-Id"); // a UUID
 * ```
 */
export function withRequestId<T extends { fetch(request: Request): Promise<Response> }>(
  handler: T,
): T {
  const inner = handler.fetch.bind(handler);
  const fetch = async (request: Request): Promise<Response> => {
    const id = requestId(request);
    return withHeader(await inner(request), REQUEST_ID_HEADER, id);
  };
  return Object.assign(Object.create(handler) as T, { fetch });
}

/** `response` with one header set, copied when its headers are immutable (a fetched response). */
export function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set(name, value);
    return copy;
  }
}
