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
import { type HistogramSeries, labelKey } from "./metrics_text.ts";
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
  const { requests, duration, bytesIn, bytesOut } = metrics;
  const inFlight = metrics.inFlight.series();
  const uploads = metrics.uploadsInProgress.series();

  /** Series handles of one route and method: latency, bytes out, and requests by status. */
  interface Handles {
    duration: HistogramSeries;
    bytesOut: { v: number };
    status: Map<number, { v: number }>;
  }
  const handles = new Map<string, Map<string, Handles>>();
  function handlesOf(route: string, method: string): Handles {
    let byMethod = handles.get(route);
    if (!byMethod) handles.set(route, byMethod = new Map());
    let h = byMethod.get(method);
    if (!h) {
      h = {
        duration: duration.series(labelKey(route, method)),
        bytesOut: bytesOut.series(route),
        status: new Map(),
      };
      byMethod.set(method, h);
    }
    return h;
  }
  function statusOf(h: Handles, route: string, method: string, status: number): { v: number } {
    let c = h.status.get(status);
    if (!c) h.status.set(status, c = requests.series(labelKey(route, method, String(status))));
    return c;
  }

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
    inFlight.v++;
    if (upload) uploads.v++;
    const h = handlesOf(route, method);
    let response: Response | undefined;
    try {
      response = await registry.fetch(inner);
    } finally {
      duration.observeIn(h.duration, (performance.now() - start) / 1e3);
      inFlight.v--;
      if (upload) uploads.v--;
      statusOf(h, route, method, response ? response.status : 500).v++;
    }
    if (verb === "HEAD") return response;
    // Declared lengths are counted as sent and the body is not touched: reading `response.body`
    // would turn a byte or file body into a stream (Bun then loses its fast paths).
    const declared = response.headers.get("Content-Length");
    if (declared !== null) {
      const n = Number(declared);
      if (Number.isSafeInteger(n) && n >= 0 && declared.trim() !== "") {
        h.bytesOut.v += n;
        return response;
      }
    }
    const body = response.body;
    if (body === null) return response;
    const out = h.bytesOut;
    const counted = countBytes(body, (n) => (out.v += n));
    return new Response(counted, response);
  }

  return Object.assign(Object.create(registry) as Registry, { fetch, metrics });
}
