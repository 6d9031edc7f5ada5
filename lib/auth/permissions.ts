/**
 * Who may do what, from a policy or an authorize hook (not both): one answer for the Basic mode,
 * the token service and the catalog filter.
 *
 * @module
 */
import { type AccessPolicy, defaultPolicy, parsePolicy, type PolicyDocument } from "./policy.ts";
import { type Action, ACTIONS, type AuthorizeHook, type Identity } from "./types.ts";

/** Where permissions come from. */
export interface PermissionOptions {
  /** The access policy (compiled, a document, or JSON text). Default: {@link defaultPolicy}. */
  policy?: AccessPolicy | PolicyDocument | string;
  /** A hook deciding each request instead of a policy. */
  authorize?: AuthorizeHook;
}

/** Decisions over one source of permissions. */
export interface Permissions {
  /** Whether `identity` may perform every one of `actions` on `repository`. */
  may(identity: Identity, repository: string, actions: Action[]): Promise<boolean>;
  /** Every action `identity` may perform on `repository`. */
  allowed(identity: Identity, repository: string): Promise<Set<Action>>;
}

function isCompiled(policy: unknown): policy is AccessPolicy {
  return typeof (policy as AccessPolicy).allowed === "function";
}

/**
 * Compile the permission source of `options`.
 *
 * @example
 * ```ts
 * const perms = createPermissions({ policy: { admins: ["root"] } });
 * await perms.may({ scheme: "basic", subject: "root" }, "a", ["delete"]); // true
 * ```
 */
export function createPermissions(options: PermissionOptions): Permissions {
  const hook = options.authorize;
  if (hook) {
    if (options.policy !== undefined) {
      throw new TypeError("give a policy or an authorize hook, not both");
    }
    return {
      may: async (identity, repository, actions) =>
        (await hook(identity, { repository, actions: [...actions] })) === true,
      async allowed(identity, repository) {
        const out = new Set<Action>();
        for (const action of ACTIONS) {
          if ((await hook(identity, { repository, actions: [action] })) === true) out.add(action);
        }
        return out;
      },
    };
  }
  const source = options.policy;
  const policy = source === undefined
    ? defaultPolicy()
    : isCompiled(source)
    ? source
    : parsePolicy(source);
  return {
    async may(identity, repository, actions) {
      const allowed = policy.allowed(identity.subject, repository);
      return actions.every((a) => allowed.has(a));
    },
    allowed: async (identity, repository) => policy.allowed(identity.subject, repository),
  };
}
