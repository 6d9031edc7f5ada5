/**
 * The access stage's contract with the handler ({@link RegistryAuth}) and the generic guard every
 * mode shares: identify the caller, work out what the route needs, decide, and answer refusals
 * with errors that reveal nothing about what exists (the decision never looks at storage).
 *
 * @module
 */
import { RegistryError } from "../errors.ts";
import { isValidName } from "../grammar.ts";
import { type Need, neededAccess } from "./route_access.ts";
import type { Action, Identity } from "./types.ts";

/** The request as the access stage sees it: after routing and name validation. */
export interface AccessTarget {
  /** The route name. */
  route: string;
  /** The request method. */
  method: string;
  /** The decoded, validated repository name ("" for `/v2/` and the catalog). */
  name: string;
  /** The request URL. */
  url: URL;
  /** The registry's mount prefix ("" when none). */
  basePath: string;
}

/** What the access stage lets through. */
export interface AccessGrant {
  /** Who is asking. */
  identity: Identity;
  /**
   * The URL the route should see, when the stage changed it: a cross-repository mount from a
   * repository the caller may not pull loses `mount` and `from` (an ordinary upload session).
   */
  url?: URL;
  /** For the catalog: which repositories the caller may see (undefined: all). */
  visible?: (name: string) => boolean | Promise<boolean>;
}

/** Access control as `createRegistry({ auth })` takes it. */
export interface RegistryAuth {
  /**
   * Decide one request before any storage access: resolves with the grant, or rejects with a
   * {@link RegistryError} (401 with a challenge, or 403).
   */
  guard(request: Request, target: AccessTarget): Promise<AccessGrant>;
  /** The token endpoint (`/token`), when this mode serves one. */
  token?(request: Request): Promise<Response>;
}

/** What a mode provides to {@link createGuard}. */
export interface GuardMode {
  /** Who is asking; rejects with a 401 when credentials are present but invalid. */
  identify(request: Request, target: AccessTarget, need: Need): Promise<Identity>;
  /** Whether `identity` may perform every one of `actions` on `repository`. */
  may(identity: Identity, repository: string, actions: Action[]): Promise<boolean>;
  /** The catalog filter for `identity`, or a rejection. */
  catalog(identity: Identity, target: AccessTarget): Promise<AccessGrant["visible"]>;
  /** The error refusing `identity` what `need` asks on `target`. */
  refuse(identity: Identity, target: AccessTarget, need: Need): RegistryError;
}

/**
 * Build a {@link RegistryAuth} guard from a mode.
 *
 * @example
 * ```ts
 * const auth: RegistryAuth = { guard: createGuard(mode) };
 * ```
 */
export function createGuard(mode: GuardMode): RegistryAuth["guard"] {
  return async (request, target) => {
    const need = neededAccess(target.route, target.method);
    if (!need) throw new RegistryError("DENIED", null);
    const identity = await mode.identify(request, target, need);
    if (need.kind === "login") {
      if (identity.scheme === "anonymous") throw mode.refuse(identity, target, need);
      return { identity };
    }
    if (need.kind === "catalog") return { identity, visible: await mode.catalog(identity, target) };
    if (!(await mode.may(identity, target.name, need.actions))) {
      throw mode.refuse(identity, target, need);
    }
    if (target.route === "uploads" && target.url.searchParams.has("mount")) {
      const from = target.url.searchParams.get("from");
      const allowed = from !== null && isValidName(from) &&
        await mode.may(identity, from, ["pull"]);
      if (!allowed) {
        const url = new URL(target.url);
        url.searchParams.delete("mount");
        url.searchParams.delete("from");
        return { identity, url };
      }
    }
    return { identity };
  };
}
