/**
 * Operations for fetch-registry: notification events and webhook delivery, Prometheus metrics,
 * health endpoints and structured access logs. Everything here wraps or observes the handler from
 * outside; the handler core only knows the observer hook's types.
 *
 * @example
 * ```ts
 * import { createRegistry, memoryStorage } from "fetch-registry";
 * import {
 *   createEventObserver, createNotifier, createRegistryMetrics, endpointFromUrl,
 *   instrumentStorage, withMetrics,
 * } from "fetch-registry/observe";
 *
 * const notifier = createNotifier({ endpoints: [endpointFromUrl("http://127.0.0.1:9000/")] });
 * const metrics = createRegistryMetrics({ notifications: notifier.stats });
 * const registry = withMetrics(createRegistry({
 *   storage: instrumentStorage(memoryStorage(), metrics),
 *   observer: createEventObserver(notifier.publish),
 * }), { metrics });
 * ```
 *
 * @module
 */
export * from "./outcome.ts";
export * from "./events.ts";
export * from "./request_id.ts";
export * from "./notify_config.ts";
export * from "./notify.ts";
export * from "./metrics_text.ts";
export * from "./metrics.ts";
export * from "./storage_metrics.ts";
export * from "./with_metrics.ts";
export * from "./health.ts";
export * from "./redact.ts";
export * from "./json_log.ts";
export { countBytes } from "./count_stream.ts";
