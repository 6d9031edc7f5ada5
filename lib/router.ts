/**
 * The route table, compiled once by itty-router. Repository names contain slashes, so every route
 * matches a fixed suffix and the name is everything before it (itty's greedy `:name+`); names are
 * validated by the grammar after matching. Only this module knows the router.
 *
 * @module
 */
import { IttyRouter } from "itty-router";

/** The registry's routes. */
export type RouteName =
  | "base"
  | "catalog"
  | "uploads"
  | "upload"
  | "blob"
  | "manifest"
  | "tags"
  | "referrers"
  | "token";

/** A matched route. */
export interface RouteMatch {
  /** Which route. */
  route: RouteName;
  /** Path parameters (`name`, `reference`, `digest`, `id`), still percent-encoded. */
  params: Record<string, string>;
  /** Whether the route serves the request's method (otherwise the answer is 405). */
  allowed: boolean;
}

/** Pattern and methods of each route, in match order (uploads before blobs). */
const ROUTES: ReadonlyArray<readonly [RouteName, string, readonly string[]]> = [
  ["base", "/v2", ["GET", "HEAD"]],
  ["catalog", "/v2/_catalog", ["GET", "HEAD"]],
  ["uploads", "/v2/:name+/blobs/uploads", ["POST"]],
  ["upload", "/v2/:name+/blobs/uploads/:id", ["GET", "HEAD", "PATCH", "PUT", "DELETE"]],
  ["blob", "/v2/:name+/blobs/:digest", ["GET", "HEAD", "DELETE"]],
  ["manifest", "/v2/:name+/manifests/:reference", ["GET", "HEAD", "PUT", "DELETE"]],
  ["tags", "/v2/:name+/tags/list", ["GET", "HEAD"]],
  ["referrers", "/v2/:name+/referrers/:digest", ["GET", "HEAD"]],
  // Outside /v2: the built-in token service (served only when access control has one).
  ["token", "/token", ["GET", "HEAD", "POST"]],
];

/** A compiled route table. */
export interface Router {
  /** Match a request path; `undefined` when no route has that path. */
  match(method: string, pathname: string): RouteMatch | undefined;
}

/**
 * Compile the route table for a registry mounted at `basePath`.
 *
 * @example
 * ```ts
 * const router = createRouter("");
 * router.match("GET", "/v2/a/b/manifests/latest");
 * // { route: "manifest", params: { name: "a/b", reference: "latest" }, allowed: true }
 * ```
 */
export function createRouter(basePath = ""): Router {
  const itty = IttyRouter({ base: basePath.replace(/\/+$/, "") });
  for (const [, pattern] of ROUTES) itty.all(pattern);
  // itty compiles each pattern into a RegExp with named groups; we reuse its table and match the
  // already-parsed pathname ourselves instead of letting itty parse the URL a second time.
  const table = itty.routes.map(([, regexp], i) => {
    const [route, , methods] = ROUTES[i];
    return { route, regexp: regexp as RegExp, methods: new Set(methods) };
  });
  return {
    match(method, pathname) {
      for (const { route, regexp, methods } of table) {
        const m = regexp.exec(pathname);
        if (m) return { route, params: { ...m.groups }, allowed: methods.has(method) };
      }
      return undefined;
    },
  };
}
