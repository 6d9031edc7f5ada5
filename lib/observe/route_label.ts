/**
 * Route names for metric labels and log fields without a second regex match per request: a
 * suffix classifier that gives exactly what lib/router.ts's table matches (the same route names,
 * the same order, trailing slashes allowed, a non-empty name, one-segment parameters), checked
 * against the router by tests/observe_metrics.test.ts.
 *
 * @module
 */
import type { RouteName } from "../router.ts";

/** Suffix routes in the router's match order: [route, fixed suffix, with a one-segment param]. */
const SUFFIX_ROUTES: ReadonlyArray<readonly [RouteName, string, boolean]> = [
  ["uploads", "/blobs/uploads", false],
  ["upload", "/blobs/uploads", true],
  ["blob", "/blobs", true],
  ["manifest", "/manifests", true],
  ["tags", "/tags/list", false],
  ["referrers", "/referrers", true],
];

/**
 * A function from a request's pathname to the registry route it matches (undefined: none), for a
 * registry mounted at `basePath`.
 *
 * @example
 * ```ts
 * const routeOf = createRouteClassifier("");
 * routeOf("/v2/a/b/manifests/latest"); // "manifest"
 * routeOf("/favicon.ico"); // undefined
 * ```
 */
export function createRouteClassifier(
  basePath = "",
): (pathname: string) => RouteName | undefined {
  const base = basePath.replace(/\/+$/, "");
  const root = `${base}/v2`;
  const token = `${base}/token`;
  return (pathname) => {
    if (!pathname.startsWith(root)) {
      if (!pathname.startsWith(token)) return undefined;
      let end = pathname.length;
      while (end > token.length && pathname.charCodeAt(end - 1) === 47) end--;
      return end === token.length ? "token" : undefined;
    }
    let end = pathname.length;
    while (end > root.length && pathname.charCodeAt(end - 1) === 47) end--;
    const t = end === pathname.length ? pathname : pathname.slice(0, end);
    if (t.length === root.length) return "base";
    if (t.charCodeAt(root.length) !== 47) return undefined;
    if (t.length === root.length + 9 && t.endsWith("/_catalog")) return "catalog";
    // t is `<root>/<rest>`, rest non-empty and without trailing slashes.
    const slash = t.lastIndexOf("/");
    const last = t.slice(slash + 1);
    for (const [route, suffix, param] of SUFFIX_ROUTES) {
      const stem = param ? slash : t.length;
      if (param && last.length === 0) continue;
      if (!t.startsWith(suffix, stem - suffix.length)) continue;
      // name: between `<root>/` and the suffix; at least one character.
      if (stem - suffix.length - (root.length + 1) >= 1) return route;
    }
    return undefined;
  };
}

/** The pathname of an absolute URL string, without parsing the whole URL. */
export function pathnameOf(url: string): string {
  const scheme = url.indexOf("//");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 2);
  if (start < 0) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}
