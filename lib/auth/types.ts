/**
 * Shared types of access control: actions, identities, access entries and the authorize hook.
 *
 * @module
 */

/** What a request does to a repository. */
export type Action = "pull" | "push" | "delete";

/** Every action, in the order they are written. */
export const ACTIONS: readonly Action[] = ["pull", "push", "delete"];

/** Who is asking. `subject` is undefined for an anonymous caller. */
export interface Identity {
  /** The user name; undefined when the request carries no credentials. */
  readonly subject?: string;
  /** How the caller proved it: no credentials, a Basic password, or a bearer token. */
  readonly scheme: "anonymous" | "basic" | "bearer";
  /** What a bearer token grants (its `access` claim); undefined for other schemes. */
  readonly access?: readonly AccessEntry[];
}

/** One entry of a token's `access` claim (Docker token spec, jwt.md). */
export interface AccessEntry {
  /** Resource type: `repository` or `registry`. */
  type: string;
  /** Resource name: a repository name, or `catalog`. */
  name: string;
  /** Granted actions. */
  actions: string[];
}

/** What a request needs: one repository and the actions on it. */
export interface AccessRequest {
  /** The repository name, decoded and validated as routing sees it. */
  repository: string;
  /** The actions needed (all of them). */
  actions: Action[];
}

/**
 * A permission hook for people who keep permissions elsewhere: may `identity` perform every one
 * of `access.actions` on `access.repository`?
 *
 * @example
 * ```ts
 * const authorize: AuthorizeHook = (who, { repository, actions }) =>
 *   who.subject === "ci" || (actions.every((a) => a === "pull") && repository.startsWith("public/"));
 * ```
 */
export type AuthorizeHook = (
  identity: Identity,
  access: AccessRequest,
) => boolean | Promise<boolean>;
