/**
 * Health endpoints: `/healthz` says the process answers (no storage access), `/readyz` says the
 * storage answers, within a bounded time. Cheap to poll every second: readiness is probed at most
 * once per `cacheMs`, concurrent polls share one probe, and the bodies are constant strings.
 *
 * @module
 */
import type { Storage } from "../storage/types.ts";

/** Options of {@link createHealth}. */
export interface HealthOptions {
  /** Longest wait for storage before `/readyz` answers 503. Default 2000 ms. */
  timeoutMs?: number;
  /** How long one readiness result is reused. Default 1000 ms. */
  cacheMs?: number;
  /** The clock (tests). Default `Date.now`. */
  now?: () => number;
}

/** The readiness of the storage. */
export interface Readiness {
  /** Whether storage answered in time. */
  ready: boolean;
  /** Why not: `storage check failed` or `storage check timed out`. */
  reason?: string;
}

/** The health endpoints of one registry. */
export interface Health {
  /** `/healthz`: 200 while the process answers. */
  live(request: Request): Response;
  /** `/readyz`: 200 when storage answers within the timeout, else 503 with a small JSON body. */
  ready(request: Request): Promise<Response>;
  /** The (cached) readiness result. */
  check(): Promise<Readiness>;
}

/** The repository and tag the readiness probe reads (absent: reading them is the probe). */
const PROBE_REPOSITORY = "fetch-registry-readiness-probe";
const PROBE_TAG = "probe";
const HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-store" };
const LIVE = '{"status":"ok"}';
const READY = '{"status":"ready"}';

function answer(request: Request, status: number, body: string): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
  }
  return new Response(request.method === "HEAD" ? null : body, { status, headers: HEADERS });
}

/**
 * Health endpoints over `storage`. The readiness probe is one `storage.tags.get` of a tag in a
 * repository nobody uses: one cheap read on every adapter.
 *
 * @example
 * ```ts
 * const health = createHealth(storage, { timeoutMs: 2000 });
 * (await health.ready(new Request("http://x/readyz"))).status; // 200 or 503
 * ```
 */
export function createHealth(storage: Storage, options: HealthOptions = {}): Health {
  const timeoutMs = options.timeoutMs ?? 2000;
  const cacheMs = options.cacheMs ?? 1000;
  const now = options.now ?? Date.now;
  let cached: { at: number; result: Readiness } | undefined;
  let probing: Promise<Readiness> | undefined;

  async function probe(): Promise<Readiness> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<Readiness>((resolve) => {
      timer = setTimeout(
        () => resolve({ ready: false, reason: "storage check timed out" }),
        timeoutMs,
      );
    });
    const read = storage.tags.get(PROBE_REPOSITORY, PROBE_TAG).then(
      (): Readiness => ({ ready: true }),
      (): Readiness => ({ ready: false, reason: "storage check failed" }),
    );
    try {
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  function check(): Promise<Readiness> {
    if (cached && now() - cached.at < cacheMs) return Promise.resolve(cached.result);
    probing ??= probe().then((result) => {
      cached = { at: now(), result };
      probing = undefined;
      return result;
    });
    return probing;
  }

  return {
    live: (request) => answer(request, 200, LIVE),
    async ready(request) {
      const result = await check();
      if (result.ready) return answer(request, 200, READY);
      return answer(request, 503, JSON.stringify({ status: "unavailable", reason: result.reason }));
    },
    check,
  };
}
