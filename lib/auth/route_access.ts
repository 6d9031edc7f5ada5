/**
 * What each route needs: `pull` for GET/HEAD of manifests, blobs, tags, referrers and upload
 * status; `push` for starting, writing, completing and cancelling uploads (cancelling is push, as
 * in distribution: it belongs to the writer) and for manifest PUT; `delete` for DELETE of
 * manifests and blobs. `/v2/` needs a login, the catalog its own grant.
 *
 * @module
 */
import type { Action } from "./types.ts";

/** The need of one request. */
export type Need =
  | { kind: "login" }
  | { kind: "catalog" }
  | {
    kind: "repository";
    /** Actions the request performs (all needed). */
    actions: Action[];
    /** Actions to ask for in a Bearer challenge's scope (a push asks pull,push, as clients do). */
    scope: Action[];
  };

const PULL: Need = { kind: "repository", actions: ["pull"], scope: ["pull"] };
const PUSH: Need = { kind: "repository", actions: ["push"], scope: ["pull", "push"] };
const DELETE: Need = { kind: "repository", actions: ["delete"], scope: ["delete"] };

/**
 * The need of `method` on `route` (a route name of the router); undefined for a route the access
 * stage does not know (refused).
 *
 * @example
 * ```ts
 * neededAccess("manifest", "PUT"); // { kind: "repository", actions: ["push"], scope: ["pull", "push"] }
 * ```
 */
export function neededAccess(route: string, method: string): Need | undefined {
  const read = method === "GET" || method === "HEAD";
  switch (route) {
    case "base":
      return { kind: "login" };
    case "catalog":
      return { kind: "catalog" };
    case "tags":
    case "referrers":
      return PULL;
    case "uploads":
      return PUSH;
    case "upload":
      return read ? PULL : PUSH;
    case "blob":
    case "manifest":
      if (read) return PULL;
      if (method === "DELETE") return DELETE;
      return method === "PUT" ? PUSH : undefined;
    default:
      return undefined;
  }
}
