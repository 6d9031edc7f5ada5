/**
 * The CLI's operations wiring (issue 15): metrics (`--metrics`, `--metrics-port`), the access
 * log's format (`--log-format`), webhooks (`--notify`, `--notify-config`), request ids and the
 * health endpoints, composed around the registry from fetch-registry/observe.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import type { Registry } from "../registry.ts";
import type { RequestObserver } from "../observe/outcome.ts";
import { createEventObserver } from "../observe/events.ts";
import { createHealth } from "../observe/health.ts";
import { createJsonLogFormatter } from "../observe/json_log.ts";
import { createRegistryMetrics, type RegistryMetrics } from "../observe/metrics.ts";
import { type CloseResult, createNotifier, type Notifier } from "../observe/notify.ts";
import {
  endpointFromUrl,
  NotifyConfigError,
  type NotifyEndpoint,
  parseNotifyConfig,
} from "../observe/notify_config.ts";
import { originalRequest, withRequestId } from "../observe/request_id.ts";
import { pathnameOf } from "../observe/route_label.ts";
import { instrumentStorage } from "../observe/storage_metrics.ts";
import { withMetrics } from "../observe/with_metrics.ts";
import { formatRequestLog } from "../server/log.ts";
import { remoteAddress } from "../server/remote_address.ts";
import { serve } from "../server/serve.ts";
import {
  AddressInUseError,
  type FetchHandler,
  type RequestLogEntry,
  type RunningServer,
} from "../server/types.ts";
import type { Storage } from "../storage/types.ts";
import type { CliOptions } from "./args.ts";

/** A `--notify` or `--notify-config` setting that cannot be used: printed as one line, exit 1. */
export class NotifySetupError extends Error {}

/** What the CLI serves and logs besides the registry itself. */
export interface CliObservability {
  /** The storage to give the registry (instrumented when metrics are on). */
  readonly storage: Storage;
  /** The registry's `observer` (webhook events), when endpoints are configured. */
  readonly observer?: RequestObserver;
  /** The metric set, when metrics are on. */
  readonly metrics?: RegistryMetrics;
  /** Wraps the registry: metrics, health endpoints, request ids. */
  wrap(registry: Registry): { fetch: FetchHandler };
  /** Writes one access-log entry. */
  onRequest(entry: RequestLogEntry): void;
  /** Starts the `--metrics-port` listener, if asked for. */
  listenMetrics(host: string): Promise<RunningServer | undefined>;
  /** Stops the metrics listener and delivers queued notifications for at most `deadlineMs`. */
  close(deadlineMs: number): Promise<CloseResult | undefined>;
}

/** The endpoints of `--notify-config` and then of each `--notify`, names made unique. */
async function notifyEndpoints(options: CliOptions): Promise<NotifyEndpoint[]> {
  const endpoints: NotifyEndpoint[] = [];
  if (options.notifyConfig !== undefined) {
    let text: string;
    try {
      text = await readFile(options.notifyConfig, "utf8");
    } catch (error) {
      const code = (error as { code?: string })?.code;
      const why = code === "ENOENT" ? "no such file" : (error as Error)?.message ?? String(error);
      throw new NotifySetupError(`--notify-config ${options.notifyConfig}: ${why}`);
    }
    try {
      endpoints.push(...parseNotifyConfig(text).endpoints);
    } catch (error) {
      if (!(error instanceof NotifyConfigError)) throw error;
      throw new NotifySetupError(`--notify-config ${options.notifyConfig}: ${error.message}`);
    }
  }
  const names = new Set(endpoints.map((e) => e.name));
  for (const url of options.notify) {
    let endpoint: NotifyEndpoint;
    try {
      endpoint = endpointFromUrl(url);
    } catch (error) {
      if (!(error instanceof NotifyConfigError)) throw error;
      throw new NotifySetupError(error.message); // names --notify.url and the value
    }
    let name = endpoint.name;
    for (let n = 2; names.has(name); n++) name = `${endpoint.name}#${n}`;
    names.add(name);
    endpoints.push({ ...endpoint, name });
  }
  return endpoints;
}

/** Answers `/healthz` and `/readyz` in front of `registry` (when metrics, which do that, are off). */
function withHealth(registry: Registry): { fetch: FetchHandler } {
  const health = createHealth(registry.storage);
  return {
    fetch(request) {
      const pathname = pathnameOf(request.url);
      if (pathname === "/healthz") return health.live(request);
      if (pathname === "/readyz") return health.ready(request);
      return registry.fetch(request);
    },
  };
}

/**
 * Set up what `options` asks for around `storage`. Throws {@link NotifySetupError} for a webhook
 * setting that cannot be used.
 */
export async function setUpObservability(
  options: CliOptions,
  storage: Storage,
  write: (line: string) => void,
): Promise<CliObservability> {
  const endpoints = await notifyEndpoints(options);
  let notifier: Notifier | undefined;
  let observer: RequestObserver | undefined;
  if (endpoints.length > 0) {
    notifier = createNotifier({
      endpoints,
      log: (message) => process.stderr.write(`fetch-registry: notify ${message}\n`),
    });
    observer = createEventObserver(notifier.publish, {
      wants: notifier.wants,
      clientAddress: (request) => remoteAddress(originalRequest(request)),
    });
  }
  const metrics = options.metrics
    ? createRegistryMetrics({
      memory: () => process.memoryUsage(),
      notifications: notifier?.stats,
    })
    : undefined;
  const formatJson = options.logFormat === "json" ? createJsonLogFormatter() : undefined;
  let metricsServer: RunningServer | undefined;

  return {
    storage: metrics ? instrumentStorage(storage, metrics) : storage,
    observer,
    metrics,
    wrap(registry) {
      const inner = metrics
        ? withMetrics(registry, { metrics, serveMetrics: options.metricsPort === undefined })
        : withHealth(registry);
      return withRequestId({ fetch: async (request: Request) => await inner.fetch(request) });
    },
    onRequest(entry) {
      if (!formatJson) {
        write(formatRequestLog(entry));
        return;
      }
      let request = entry.request;
      if (!request) {
        // node:http could not build a Request (a malformed target): log what is known.
        try {
          request = new Request(new URL(entry.path, "http://invalid/"), { method: entry.method });
        } catch {
          request = new Request("http://invalid/");
        }
      }
      write(formatJson({
        request,
        status: entry.status,
        bytesIn: entry.bytesIn,
        bytesOut: entry.bytesOut,
        durationMs: entry.ms,
        remoteAddr: entry.remoteAddr,
        aborted: entry.aborted,
      }));
    },
    async listenMetrics(host) {
      if (!metrics || options.metricsPort === undefined) return undefined;
      try {
        metricsServer = await serve((request) => metrics.handler(request), {
          hostname: host,
          port: options.metricsPort,
          server: options.server,
        });
      } catch (error) {
        if (!(error instanceof AddressInUseError)) throw error;
        throw new Error(
          `--metrics-port ${options.metricsPort} on ${host} is already in use (choose another)`,
        );
      }
      return metricsServer;
    },
    async close(deadlineMs) {
      await metricsServer?.close({ timeoutMs: 1000 });
      return await notifier?.close(deadlineMs);
    },
  };
}
