/**
 * The registry's Prometheus metrics: one set per registry, fed by the fetch wrapper
 * (`withMetrics`) and the storage wrapper (`instrumentStorage`), read at scrape time for process
 * memory and webhook counters.
 *
 * @module
 */
import type { EndpointStats } from "./notify.ts";
import {
  type Collector,
  Counter,
  Gauge,
  Histogram,
  labelKey,
  PROMETHEUS_CONTENT_TYPE,
} from "./metrics_text.ts";

/** Process memory as `process.memoryUsage()` reports it (Node, Deno, Bun all have that shape). */
export interface MemoryUsage {
  /** Resident set size, bytes. */
  rss?: number;
  /** JavaScript heap in use, bytes. */
  heapUsed?: number;
}

/** Options of {@link createRegistryMetrics}. */
export interface RegistryMetricsOptions {
  /**
   * Reads process memory at scrape time (e.g. `() => process.memoryUsage()`); the metrics are left
   * out without it, so this module needs no runtime API.
   */
  memory?: () => MemoryUsage;
  /** Webhook counters at scrape time (a notifier's `stats`). */
  notifications?: () => readonly EndpointStats[];
  /** Latency buckets, seconds. Default {@link DEFAULT_SECONDS_BUCKETS}. */
  buckets?: readonly number[];
}

/** The metric families of one registry. */
export interface RegistryMetrics {
  /** `fetch_registry_http_requests_total{route,method,status}`. */
  readonly requests: Counter;
  /** `fetch_registry_http_request_duration_seconds{route,method}` (to the response headers). */
  readonly duration: Histogram;
  /** `fetch_registry_http_request_body_bytes_total{route}`: request body bytes read. */
  readonly bytesIn: Counter;
  /** `fetch_registry_http_response_body_bytes_total{route}`: response body bytes. */
  readonly bytesOut: Counter;
  /** `fetch_registry_http_requests_in_flight`. */
  readonly inFlight: Gauge;
  /** `fetch_registry_uploads_in_progress`: upload requests receiving their body now. */
  readonly uploadsInProgress: Gauge;
  /** `fetch_registry_storage_operation_duration_seconds{operation}`. */
  readonly storageDuration: Histogram;
  /** `fetch_registry_storage_operation_errors_total{operation}`. */
  readonly storageErrors: Counter;
  /** Every family, in exposition order. */
  readonly collectors: readonly Collector[];

  /** The whole exposition text. */
  render(): string;
  /** A fetch handler answering every GET/HEAD with the exposition (for a separate listener). */
  handler(request: Request): Promise<Response>;
}

function notificationGauge(
  name: string,
  help: string,
  stats: (() => readonly EndpointStats[]) | undefined,
  pick: (s: EndpointStats) => Iterable<[string, number]>,
  labels: string[],
): Gauge {
  const read = () => (stats ? stats().flatMap((s) => [...pick(s)]) : []);
  return new Gauge(name, help, labels, read, name.endsWith("_total") ? "counter" : "gauge");
}

/**
 * Create the metric set of one registry.
 *
 * @example
 * ```ts
 * const metrics = createRegistryMetrics({ memory: () => process.memoryUsage() });
 * const registry = withMetrics(createRegistry({ storage: instrumentStorage(storage, metrics) }), {
 *   metrics,
 * });
 * ```
 */
export function createRegistryMetrics(options: RegistryMetricsOptions = {}): RegistryMetrics {
  const buckets = options.buckets;
  const P = "fetch_registry_";
  const requests = new Counter(
    `${P}http_requests_total`,
    "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
  );
  const duration = new Histogram(
    `${P}http_request_duration_seconds`,
    "Time from a request to its response headers, by route and method.",
    ["route", "method"],
    buckets,
  );
  const bytesIn = new Counter(
    `${P}http_request_body_bytes_total`,
    "Request body bytes read by the handler, by route.",
    ["route"],
  );
  const bytesOut = new Counter(
    `${P}http_response_body_bytes_total`,
    "Response body bytes sent (declared Content-Length, or counted as streamed), by route.",
    ["route"],
  );
  const inFlight = new Gauge(`${P}http_requests_in_flight`, "Requests being handled now.");
  const uploadsInProgress = new Gauge(
    `${P}uploads_in_progress`,
    "Blob upload requests (POST, PATCH, PUT) whose body is being received now.",
  );
  inFlight.set("", 0);
  uploadsInProgress.set("", 0);
  const storageDuration = new Histogram(
    `${P}storage_operation_duration_seconds`,
    "Storage adapter call latency, by operation (e.g. blobs.stat).",
    ["operation"],
    buckets,
  );
  const storageErrors = new Counter(
    `${P}storage_operation_errors_total`,
    "Storage adapter calls that failed, by operation.",
    ["operation"],
  );
  const collectors: Collector[] = [
    requests,
    duration,
    bytesIn,
    bytesOut,
    inFlight,
    uploadsInProgress,
    storageDuration,
    storageErrors,
  ];
  const memory = options.memory;
  if (memory) {
    collectors.push(
      new Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [], () => {
        const rss = memory().rss;
        return rss === undefined ? [] : [["", rss]];
      }),
      new Gauge(`${P}heap_used_bytes`, "JavaScript heap in use, bytes.", [], () => {
        const heap = memory().heapUsed;
        return heap === undefined ? [] : [["", heap]];
      }),
    );
  }
  const stats = options.notifications;
  if (stats) {
    collectors.push(
      notificationGauge(
        `${P}notifications_delivered_total`,
        "Webhook events delivered, by endpoint.",
        stats,
        (s) => [[s.name, s.delivered]],
        ["endpoint"],
      ),
      notificationGauge(
        `${P}notifications_failures_total`,
        "Failed webhook delivery attempts, by endpoint.",
        stats,
        (s) => [[s.name, s.failures]],
        ["endpoint"],
      ),
      notificationGauge(
        `${P}notifications_dropped_total`,
        "Webhook events dropped, by endpoint and reason (queue_full, retries_exhausted, shutdown).",
        stats,
        (s) => Object.entries(s.dropped).map(([reason, n]) => [labelKey(s.name, reason), n]),
        ["endpoint", "reason"],
      ),
      notificationGauge(
        `${P}notifications_pending`,
        "Webhook events queued, by endpoint.",
        stats,
        (s) => [[s.name, s.pending]],
        ["endpoint"],
      ),
    );
  }
  const render = () => collectors.map((c) => c.render()).join("");
  return {
    requests,
    duration,
    bytesIn,
    bytesOut,
    inFlight,
    uploadsInProgress,
    storageDuration,
    storageErrors,
    collectors,
    render,
    handler(request) {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return Promise.resolve(
          new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } }),
        );
      }
      const text = render();
      const headers = { "Content-Type": PROMETHEUS_CONTENT_TYPE, "Cache-Control": "no-store" };
      return Promise.resolve(new Response(request.method === "HEAD" ? null : text, { headers }));
    },
  };
}
