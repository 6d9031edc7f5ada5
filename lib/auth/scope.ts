/**
 * Token scopes (Docker token spec, scope.md): `repository:NAME:pull,push`, `registry:catalog:*`.
 * The resource type is everything before the first `:`, the actions everything after the last one,
 * and the name what lies between (a name may hold a `host:port` prefix).
 *
 * @module
 */
import type { AccessEntry } from "./types.ts";

/** A parsed scope. */
export interface Scope {
  /** Resource type, e.g. `repository`. A class suffix (`repository(plugin)`) is dropped. */
  type: string;
  /** Resource name. */
  name: string;
  /** Requested actions, deduplicated, in order of appearance. */
  actions: string[];
}

const TYPE = /^([a-z0-9]+)(\([a-z0-9]+\))?$/;
const ACTION = /^[a-z]+$|^\*$/;

/**
 * Parse one scope; undefined when malformed.
 *
 * @example
 * ```ts
 * parseScope("repository:library/alpine:pull,push");
 * // { type: "repository", name: "library/alpine", actions: ["pull", "push"] }
 * ```
 */
export function parseScope(text: string): Scope | undefined {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = TYPE.exec(text.slice(0, first));
  const name = text.slice(first + 1, last);
  if (!type || name === "") return undefined;
  const actions: string[] = [];
  for (const action of text.slice(last + 1).split(",")) {
    if (!ACTION.test(action)) return undefined;
    if (!actions.includes(action)) actions.push(action);
  }
  return { type: type[1], name, actions };
}

/**
 * Parse every scope of a request: each value may hold several scopes separated by spaces (the
 * OAuth2 form), and a value may be repeated (the GET form). Undefined when any is malformed.
 *
 * @example
 * ```ts
 * parseScopes(["repository:a:pull repository:b:push", "registry:catalog:*"]); // three scopes
 * ```
 */
export function parseScopes(values: readonly string[]): Scope[] | undefined {
  const out: Scope[] = [];
  for (const value of values) {
    for (const text of value.split(" ")) {
      if (text === "") continue;
      const scope = parseScope(text);
      if (!scope) return undefined;
      out.push(scope);
    }
  }
  return out;
}

/**
 * Format a scope or an access entry.
 *
 * @example
 * ```ts
 * formatScope({ type: "repository", name: "a/b", actions: ["pull", "push"] }); // "repository:a/b:pull,push"
 * ```
 */
export function formatScope(scope: Scope | AccessEntry): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}
