/**
 * The `fetch-registry` command: serve a registry on this runtime's own server.
 *
 * ```sh
 * fetch-registry --port 5000                 # the npm bin (built JS, plain node)
 * npm start -- --port 5000                   # in a clone: builds dist/ if stale, then the same
 * npx tsx lib/cli/main.ts                    # Node, from the sources
 * npx deno run -A lib/cli/main.ts            # Deno
 * npx bun lib/cli/main.ts                    # Bun
 * ```
 *
 * Prints the address to push to, then one line per request (`formatRequestLog`, or one JSON
 * object with `--log-format json`); metrics, webhooks and health are wired in observe.ts. On
 * SIGINT or SIGTERM it stops accepting connections, lets in-flight requests finish (at most 10 s),
 * delivers queued webhook notifications (at most 5 s) and exits 0; a second signal exits at once. Failures to start are one line on stderr, exit 1;
 * a bad command line exits 2.
 *
 * @module
 */
import process from "node:process";
import { detectRuntime } from "../server/serve.ts";
import { type StartedRegistry, startRegistry } from "../server/start.ts";
import { AddressInUseError } from "../server/types.ts";
import { type CliOptions, parseArgs, USAGE, UsageError } from "./args.ts";
import {
  type AccessConfig,
  accessFromOptions,
  AuthConfigError,
  exposureWarnings,
} from "./auth_config.ts";
import { runGc } from "./gc_command.ts";
import { capabilitiesOf } from "../storage/capabilities.ts";
import { type GcSchedule, scheduleGarbageCollection } from "../gc/schedule.ts";
import { storageFromSpec, StorageSpecError } from "./from_spec.ts";
import { type CliObservability, setUpObservability } from "./observe.ts";
import { packageVersion } from "./version.ts";

/** How long a graceful stop may wait for in-flight requests. */
const STOP_TIMEOUT_MS = 10_000;

/** How long a graceful stop may spend delivering queued webhook notifications. */
const NOTIFY_DEADLINE_MS = 5_000;

/** The one line shown for a failure to start. */
function describeStartError(error: unknown, options: CliOptions): string {
  if (error instanceof AddressInUseError) {
    return `port ${options.port} on ${options.host} is already in use (choose another with --port)`;
  }
  if (error instanceof StorageSpecError || error instanceof AuthConfigError) return error.message;
  const e = error as { code?: string; name?: string; message?: string };
  const code = e?.code ?? e?.name;
  if (code === "EACCES" || code === "PermissionDenied") {
    return `permission denied to listen on ${options.host}:${options.port}`;
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "AddrNotAvailable") {
    return `cannot listen on ${options.host}: no such local address`;
  }
  const message = String(e?.message ?? error).split("\n")[0];
  return message;
}

function fail(message: string, code: number): never {
  process.stderr.write(`fetch-registry: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  if (process.argv[2] === "gc") {
    const code = await runGc(process.argv.slice(3), process.env, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    });
    process.exit(code);
  }
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message} (see --help)`, 2);
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (options.version) {
    process.stdout.write(`fetch-registry ${packageVersion()}\n`);
    return;
  }
  // Signal handlers go in before the server starts, so that no signal can find the process
  // without them (a signal during start-up exits at once: nothing is in flight yet).
  let registry: StartedRegistry | undefined;
  let schedule: GcSchedule | undefined;
  let observability: CliObservability | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (!registry) process.exit(0);
    if (stopping) {
      process.stderr.write(`fetch-registry: ${signal} again, exiting now\n`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    stopping = true;
    process.stderr.write(
      `fetch-registry: ${signal}, finishing in-flight requests (up to ${
        STOP_TIMEOUT_MS / 1000
      } s)\n`,
    );
    Promise.all([registry.close({ timeoutMs: STOP_TIMEOUT_MS }), schedule?.stop()])
      .then(() => observability?.close(NOTIFY_DEADLINE_MS))
      .then(
        (notified) => {
          if (notified && (notified.delivered > 0 || notified.dropped > 0)) {
            process.stderr.write(
              `fetch-registry: notifications at shutdown: ${notified.delivered} delivered, ` +
                `${notified.dropped} dropped\n`,
            );
          }
          process.exit(0);
        },
        (error: unknown) => fail(`error while stopping: ${(error as Error)?.message ?? error}`, 1),
      );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  let access: AccessConfig;
  try {
    access = await accessFromOptions(options);
  } catch (error) {
    fail(describeStartError(error, options), 1);
  }
  try {
    const storage = await storageFromSpec(options.storage, process.env);
    const observe = observability = await setUpObservability(
      options,
      storage,
      (line) => process.stdout.write(`${line}\n`),
    );
    registry = await startRegistry({
      auth: access.auth,
      tls: access.tls,
      host: options.host,
      port: options.port,
      storage: observe.storage,
      closeStorage: true,
      server: options.server,
      ...(options.uploadTtlMs !== undefined ? { uploadTtlMs: options.uploadTtlMs } : {}),
      observer: observe.observer,
      wrap: observe.wrap,
      onRequest: observe.onRequest,
    });
    const metricsServer = await observe.listenMetrics(options.host);
    if (metricsServer) {
      process.stdout.write(`fetch-registry metrics on ${metricsServer.url}/metrics\n`);
    }
  } catch (error) {
    fail(describeStartError(error, options), 1);
  }
  const started = registry;
  if (options.gcIntervalMs !== undefined && !capabilitiesOf(started.storage).gc) {
    await started.close();
    fail(`--gc-interval: storage ${options.storage} cannot collect garbage (memory and fs can)`, 1);
  }
  if (options.gcIntervalMs !== undefined) {
    schedule = scheduleGarbageCollection(started.storage, {
      intervalMs: options.gcIntervalMs,
      ...(options.uploadTtlMs !== undefined ? { uploadTtlMs: options.uploadTtlMs } : {}),
      onReport: (report) =>
        process.stderr.write(
          `fetch-registry: gc: ${report.manifests.deleted} manifests, ${report.links.deleted} ` +
            `links, ${report.blobs.deleted} blobs (${report.bytesFreed} bytes) deleted in ` +
            `${report.durationMs} ms${
              report.errors.length ? `, ${report.errors.length} errors` : ""
            }\n`,
        ),
      onError: (error) =>
        process.stderr.write(`fetch-registry: gc failed: ${(error as Error)?.message ?? error}\n`),
    });
  }
  const pushHost = /^(0\.0\.0\.0|::|\[::\])$/.test(options.host)
    ? `127.0.0.1:${started.port}`
    : started.host;
  const runtime = detectRuntime();
  const server = runtime === "bun" && options.server !== "node"
    ? "Bun.serve"
    : runtime === "deno" && options.server === "native"
    ? "Deno.serve"
    : "node:http";
  process.stdout.write(
    `fetch-registry listening on ${started.url} (${runtime}, ${server}, storage ` +
      `${options.storage}${access.auth ? `, access ${access.mode}` : ""}) — push to ` +
      `${pushHost}/<name>\n`,
  );
  for (const warning of exposureWarnings(options.host, access)) {
    process.stderr.write(`fetch-registry: warning: ${warning}\n`);
  }
}

main().catch((error: unknown) => fail(String((error as Error)?.message ?? error), 1));
