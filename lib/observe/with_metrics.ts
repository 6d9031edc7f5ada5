/**
 * `withMetrics`: wraps a registry's fetch from outside, as the testing toolkit's recorder does.
 * It counts requests by route (lib/router.ts's route names, never raw paths), method and
 * status, times them, counts body bytes, and serves `/metrics`, `/healthz` and `/readyz`.
 *
 * @module
 */
import type { Registry } from "../registry.ts";
import { countBytes } from "./count_stream.ts";
import { createHealth, type HealthOptions } from "./health.ts";
import { createRegistryMetrics, type RegistryMetrics } from "./metrics.ts";
import { labelKey } from "./metrics_text.ts";
import { inheritRequestId } from "./request_id.ts";
import { createRouteClassifier, pathnameOf } from "./route_label.ts";

/** Options of {@link withMetrics}. */
export interface WithMetricsOptions {
  /** The metric set to feed. Default: a new {@link createRegistryMetrics}. */
  metrics?: RegistryMetrics;
  /** The registry's mount prefix (as given to `createRegistry`). Default "". */
  basePath?: string;
  /**
   * Serve the exposition on `<basePath>/metrics` through this handler. Default true; false when
   * it is served on a separate listener (`metrics.handler`).
   */
  serveMetrics?: boolean;
  /** Serve `/healthz` and `/readyz` (options, or false for neither). Default: on, 2 s timeout. */
  health?: HealthOptions | false;
}

/** A registry wrapped by {@link withMetrics}. */
export interface MeteredRegistry extends Registry {
  /** The metric set it feeds. */
  readonly metrics: RegistryMetrics;
}

/** Label values of the methods a registry serves; anything else is `OTHER` (bounded labels). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const UPLOAD_ROUTES = new Set(["uploads", "upload"]);
const UPLOAD_METHODS = new Set(["POST", "PATCH", "PUT"]);

/**
 * Wrap `registry` with Prometheus metrics and health endpoints.
 *
 * @example
 * ```ts
 * const metrics = createRegistryMetrics({ memory: () => process.memoryUsage() });
 * const storage = instrumentStorage(memoryStorage(), metrics);
 * const registry = withMetrics(createRegistry({ storage }), { metrics });
 * await registry.fetch(new Request("http://x/metrics")); // text format 0.0.4
 * ```
 */
export function withMetrics(registry: Registry, options: WithMetricsOptions = {}): MeteredRegistry {
  const metrics = options.metrics ?? createRegistryMetrics();
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  const classify = createRouteClassifier(base);
  const metricsPath = options.serveMetrics === false ? undefined : `${base}/metrics`;
  const health = options.health === false
    ? undefined
    : createHealth(registry.storage, options.health ?? {});
  const livePath = `${base}/healthz`;
  const readyPath = `${base}/readyz`;
  const { requests, duration, bytesIn, bytesOut, inFlight, uploadsInProgress } = metrics;

  async function fetch(request: Request): Promise<Response> {
    const pathname = pathnameOf(request.url);
    if (pathname === metricsPath) return metrics.handler(request);
    if (health && pathname === livePath) return health.live(request);
    if (health && pathname === readyPath) return await health.ready(request);
    const verb = request.method;
    const method = METHODS.has(verb) ? verb : "OTHER";
    const route: string = classify(pathname) ?? "unmatched";
    const upload = UPLOAD_METHODS.has(method) && UPLOAD_ROUTES.has(route);
    let inner = request;
    if (method !== "GET" && method !== "HEAD" && request.body !== null) {
      const body = countBytes(request.body, (n) => bytesIn.inc(route, n));
      inner = new Request(request, { body, duplex: "half" } as RequestInit);
      inheritRequestId(request, inner);
    }
    const start = performance.now();
    inFlight.add("", 1);
    if (upload) uploadsInProgress.add("", 1);
    let response: Response | undefined;
    try {
      response = await registry.fetch(inner);
    } finally {
      const seconds = (performance.now() - start) / 1e3;
      inFlight.add("", -1);
      if (upload) uploadsInProgress.add("", -1);
      duration.observe(labelKey(route, method), seconds);
      requests.inc(labelKey(route, method, response ? String(response.status) : "500"));
    }
    if (verb === "HEAD") return response;
    // Declared lengths are counted as sent and the body is not touched: reading `response.body`
    // would turn a byte or file body into a stream (Bun then loses its fast paths).
    const declared = response.headers.get("Content-Length");
    if (declared !== null && /^\d+$/.test(declared)) {
      bytesOut.inc(route, Number(declared));
      return response;
    }
    const body = response.body;
    if (body === null) return response;
    const counted = countBytes(body, (n) => bytesOut.inc(route, n));
    return new Response(counted, response);
  }

  return Object.assign(Object.create(registry) as Registry, { fetch, metrics });
}
