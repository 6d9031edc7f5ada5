/**
 * Deterministic fault injection around a registry's `fetch`: rules matched by method, path and
 * count answer with an error status and OCI code, add latency, cut response bodies, add
 * `Warning` headers, or redirect (blob GETs) elsewhere. The registry's handler is not touched;
 * with no rule set, requests go straight through.
 *
 * The rules' types are in fault_types.ts, their checking and matching in fault_rules.ts, and what
 * they do to a response in fault_response.ts.
 *
 * @module
 */
import { answerFor, sleep, withEffects } from "./fault_response.ts";
import { compileRule, createRuleMatcher, type LiveRule, selects } from "./fault_rules.ts";
import type {
  FaultHandle,
  FaultInjector,
  FaultMark,
  FaultsOptions,
  Handler,
} from "./fault_types.ts";

/**
 * A fault injector. Test registries make one for you (`registry.faults`); use this to put faults
 * in front of any fetch handler.
 *
 * @example
 * ```ts
 * import { createRegistry } from "fetch-registry";
 * import { createFaults } from "fetch-registry/testing";
 * const registry = createRegistry();
 * const faults = createFaults();
 * const fetch = faults.wrap(registry.fetch);
 * faults.add({ path: "/v2/", status: 503 });
 * (await fetch(new Request("http://x/v2/"))).status; // 503
 * ```
 */
export function createFaults(options: FaultsOptions = {}): FaultInjector {
  let live: LiveRule[] = [];
  const handles: FaultHandle[] = [];
  let added = 0;
  const marks = new WeakMap<Request, FaultMark>();
  const matcher = createRuleMatcher(options.basePath);

  async function inject(next: Handler, request: Request): Promise<Response> {
    const url = new URL(request.url);
    const acting: LiveRule[] = [];
    for (const r of live) {
      if (!matcher.matches(r, request, url)) continue;
      r.matched++;
      if (selects(r)) {
        r.applied++;
        acting.push(r);
      }
    }
    if (acting.length === 0) return next(request);
    const mark: FaultMark = { names: acting.map((r) => r.name) };
    marks.set(request, mark);

    const latency = acting.reduce((sum, r) => sum + (r.rule.latency ?? 0), 0);
    if (latency > 0) await sleep(latency);

    const answering = acting.find((r) =>
      r.rule.status !== undefined || r.rule.body !== undefined || r.rule.redirect !== undefined
    );
    let response: Response;
    if (answering) {
      // The request is not passed on: drop its body so the client's upload is not left hanging.
      request.body?.cancel().catch(() => {});
      response = answerFor(answering.rule, answering.name, request, url);
    } else {
      response = await next(request);
    }
    return withEffects(response, acting.map((r) => r.rule), mark);
  }

  return {
    add(rule) {
      const r = compileRule(rule, ++added);
      live = [...live, r];
      const handle: FaultHandle = {
        name: r.name,
        rule,
        get matched() {
          return r.matched;
        },
        get applied() {
          return r.applied;
        },
        remove() {
          live = live.filter((x) => x !== r);
          const i = handles.indexOf(handle);
          if (i >= 0) handles.splice(i, 1);
        },
      };
      handles.push(handle);
      return handle;
    },
    reset() {
      live = [];
      handles.length = 0;
    },
    get rules() {
      return [...handles];
    },
    wrap(next) {
      return (request) => (live.length === 0 ? next(request) : inject(next, request));
    },
    markOf(request) {
      return marks.get(request);
    },
  };
}
