/**
 * The access policy: who may pull, push and delete which repositories.
 *
 * ```json
 * { "admins": ["root"],
 *   "repositories": [
 *     { "match": "public/**", "anonymous": ["pull"], "users": { "*": ["pull"], "alice": ["push"] } },
 *     { "match": "**", "users": { "*": ["pull"] } } ] }
 * ```
 *
 * The first entry whose glob matches the repository decides (later ones are not consulted). `*`
 * matches within one path segment, `**` (a whole segment) any number of segments, none included.
 * Under `users`, `*` is any authenticated user. An authenticated user gets the union of its own
 * entry, the `*` entry and the `anonymous` grants (logging in never takes rights away). Admins may
 * do everything everywhere.
 *
 * @module
 */
import { type Action, ACTIONS } from "./types.ts";

/** The JSON document of a policy. */
export interface PolicyDocument {
  /** Users who may do everything. */
  admins?: readonly string[];
  /** Entries, first match decides. */
  repositories?: readonly PolicyEntry[];
}

/** One entry of a policy. */
export interface PolicyEntry {
  /** Glob over repository names. */
  match: string;
  /** What callers without credentials may do. */
  anonymous?: readonly Action[];
  /** What each user (`*`: any authenticated user) may do. */
  users?: Readonly<Record<string, readonly Action[]>>;
}

/** A compiled policy. */
export interface AccessPolicy {
  /**
   * The actions `subject` (undefined: anonymous) may perform on `repository`.
   *
   * @example
   * ```ts
   * policy.allowed("alice", "public/app"); // Set { "pull", "push" }
   * ```
   */
  allowed(subject: string | undefined, repository: string): Set<Action>;
  /** Whether `subject` is an admin. */
  isAdmin(subject: string | undefined): boolean;
}

/** A policy document that cannot be used; the message names the problem. */
export class PolicyError extends Error {
  /** @param message What is wrong, and where. */
  constructor(message: string) {
    super(message);
    this.name = "PolicyError";
  }
}

const SEGMENT = /^(\*\*|[a-z0-9._*-]+)$/;

/** Compile a glob into a matcher over repository names. */
function compileGlob(glob: string, where: string): (name: string) => boolean {
  const parts = glob.split("/");
  if (glob === "" || parts.some((p) => !SEGMENT.test(p))) {
    throw new PolicyError(
      `${where}.match: "${glob}" is not a glob of repository name segments ` +
        `(lowercase letters, digits, "._-", "*" within a segment, "**" as a whole segment)`,
    );
  }
  const segments = parts.map((p) =>
    p === "**" ? "**" : new RegExp(`^${p.replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*")}$`)
  );
  return (name) => {
    const names = name.split("/");
    // memo[i][j]: segments from i match names from j.
    const memo = new Map<number, boolean>();
    const go = (i: number, j: number): boolean => {
      const key = i * 1024 + j;
      const known = memo.get(key);
      if (known !== undefined) return known;
      let result: boolean;
      if (i === segments.length) result = j === names.length;
      else if (segments[i] === "**") {
        result = go(i + 1, j) || (j < names.length && go(i, j + 1));
      } else {
        result = j < names.length && (segments[i] as RegExp).test(names[j]) && go(i + 1, j + 1);
      }
      memo.set(key, result);
      return result;
    };
    return go(0, 0);
  };
}

function actionsOf(value: unknown, where: string): Action[] {
  if (!Array.isArray(value)) throw new PolicyError(`${where}: expected an array of actions`);
  for (const action of value) {
    if (!ACTIONS.includes(action)) {
      throw new PolicyError(
        `${where}: unknown action ${JSON.stringify(action)} (expected pull, push or delete)`,
      );
    }
  }
  return value as Action[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unknownKeys(value: Record<string, unknown>, allowed: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new PolicyError(`${where}: unknown key "${key}"`);
  }
}

interface CompiledEntry {
  matches: (name: string) => boolean;
  anonymous: Set<Action>;
  any: Set<Action>;
  users: Map<string, Set<Action>>;
}

/**
 * Compile a policy from its JSON text or parsed document. Throws a {@link PolicyError} naming the
 * problem (bad JSON, unknown key, bad glob, unknown action).
 *
 * @example
 * ```ts
 * const policy = parsePolicy({ repositories: [{ match: "**", anonymous: ["pull"] }] });
 * policy.allowed(undefined, "a/b"); // Set { "pull" }
 * ```
 */
export function parsePolicy(source: string | PolicyDocument): AccessPolicy {
  let doc: unknown = source;
  if (typeof source === "string") {
    try {
      doc = JSON.parse(source);
    } catch (error) {
      throw new PolicyError(`the policy is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isObject(doc)) throw new PolicyError("the policy must be a JSON object");
  unknownKeys(doc, ["admins", "repositories"], "policy");
  const admins = doc.admins ?? [];
  if (!Array.isArray(admins) || admins.some((a) => typeof a !== "string" || a === "")) {
    throw new PolicyError("admins: expected an array of user names");
  }
  const list = doc.repositories ?? [];
  if (!Array.isArray(list)) throw new PolicyError("repositories: expected an array of entries");
  const entries: CompiledEntry[] = list.map((entry: unknown, i: number) => {
    const where = `repositories[${i}]`;
    if (!isObject(entry)) throw new PolicyError(`${where}: expected an object`);
    unknownKeys(entry, ["match", "anonymous", "users"], where);
    if (typeof entry.match !== "string") throw new PolicyError(`${where}.match: expected a glob`);
    const users = new Map<string, Set<Action>>();
    const userList = entry.users ?? {};
    if (!isObject(userList)) throw new PolicyError(`${where}.users: expected an object`);
    for (const [user, actions] of Object.entries(userList)) {
      users.set(user, new Set(actionsOf(actions, `${where}.users["${user}"]`)));
    }
    const anonymous = new Set(
      entry.anonymous === undefined ? [] : actionsOf(entry.anonymous, `${where}.anonymous`),
    );
    const any = users.get("*") ?? new Set<Action>();
    users.delete("*");
    return { matches: compileGlob(entry.match, where), anonymous, any, users };
  });
  const adminSet = new Set(admins as string[]);
  return {
    isAdmin: (subject) => subject !== undefined && adminSet.has(subject),
    allowed(subject, repository) {
      if (subject !== undefined && adminSet.has(subject)) return new Set(ACTIONS);
      const entry = entries.find((e) => e.matches(repository));
      if (!entry) return new Set();
      if (subject === undefined) return new Set(entry.anonymous);
      return new Set([...entry.anonymous, ...entry.any, ...(entry.users.get(subject) ?? [])]);
    },
  };
}

/**
 * The policy without a policy file: authenticated users may do everything, anonymous callers
 * nothing.
 *
 * @example
 * ```ts
 * defaultPolicy().allowed("anyone", "x"); // Set { "pull", "push", "delete" }
 * ```
 */
export function defaultPolicy(): AccessPolicy {
  return {
    isAdmin: () => false,
    allowed: (subject) => new Set(subject === undefined ? [] : ACTIONS),
  };
}
