/**
 * Fault rules as the injector keeps them: checked and compiled once when added (methods, path
 * glob, routes), then matched against each request and counted to decide whether they act.
 *
 * @module
 */
import { createRouter } from "../router.ts";
import type { FaultRule } from "./fault_types.ts";
import { pathPattern } from "./glob.ts";

/** A rule once added: compiled criteria and its counters. */
export interface LiveRule {
  /** The rule as added. */
  rule: FaultRule;
  /** Its name (given, or `fault-<n>`). */
  name: string;
  /** Upper-case methods to match. */
  methods?: Set<string>;
  /** Compiled path pattern. */
  path?: RegExp;
  /** Route names to match. */
  routes?: Set<string>;
  /** Requests matched so far. */
  matched: number;
  /** Requests acted on so far. */
  applied: number;
}

function positiveInteger(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`fault rule: ${what} must be a positive integer, got ${value}`);
  }
}

/**
 * Check `rule` and compile it; `n` is its number among the rules added (for its default name).
 * Throws a TypeError or RangeError naming what is wrong.
 *
 * @example
 * ```ts
 * const live = compileRule({ route: "blob", nth: 2, status: 503 }, 1); // live.name "fault-1"
 * ```
 */
export function compileRule(rule: FaultRule, n: number): LiveRule {
  const given = [rule.nth, rule.first, rule.every].filter((v) => v !== undefined).length;
  if (given > 1) throw new TypeError("fault rule: give at most one of nth, first, every");
  positiveInteger(rule.nth, "nth");
  positiveInteger(rule.first, "first");
  positiveInteger(rule.every, "every");
  if (rule.redirect !== undefined && (rule.status !== undefined || rule.body !== undefined)) {
    throw new TypeError("fault rule: redirect cannot be combined with status or body");
  }
  if (rule.cutAfter !== undefined && (!Number.isInteger(rule.cutAfter) || rule.cutAfter < 0)) {
    throw new RangeError(
      `fault rule: cutAfter must be a non-negative integer, got ${rule.cutAfter}`,
    );
  }
  return {
    rule,
    name: rule.name ?? `fault-${n}`,
    methods: rule.method === undefined
      ? undefined
      : new Set(([] as string[]).concat(rule.method).map((m) => m.toUpperCase())),
    path: rule.path === undefined ? undefined : pathPattern(rule.path),
    routes: rule.route === undefined
      ? undefined
      : new Set<string>(([] as string[]).concat(rule.route)),
    matched: 0,
    applied: 0,
  };
}

/**
 * Matches requests against live rules, resolving routes with the registry's own router (built
 * on first use) under `basePath`.
 *
 * @example
 * ```ts
 * const matcher = createRuleMatcher("");
 * if (matcher.matches(live, request, new URL(request.url))) live.matched++;
 * ```
 */
export function createRuleMatcher(basePath?: string): {
  /** Whether every criterion of `r` holds for `request`. */
  matches(r: LiveRule, request: Request, url: URL): boolean;
} {
  let router: ReturnType<typeof createRouter> | undefined;
  return {
    matches(r, request, url) {
      if (r.methods && !r.methods.has(request.method)) return false;
      if (r.path && !r.path.test(url.pathname)) return false;
      if (r.routes) {
        router ??= createRouter(basePath);
        const m = router.match(request.method, url.pathname);
        if (!m || !r.routes.has(m.route)) return false;
      }
      return !r.rule.match || r.rule.match(request);
    },
  };
}

/**
 * Whether `r` acts on the request it has just counted (its `matched`-th): `nth`, `first`,
 * `every`, or always.
 *
 * @example
 * ```ts
 * selects({ ...live, matched: 2 }); // true for { nth: 2 }
 * ```
 */
export function selects(r: LiveRule): boolean {
  const n = r.matched;
  const { nth, first, every } = r.rule;
  if (nth !== undefined) return n === nth;
  if (first !== undefined) return n <= first;
  if (every !== undefined) return n % every === 0;
  return true;
}
