/**
 * The `fetch-registry` command: serve a registry on this runtime's own server.
 *
 * ```sh
 * npx tsx lib/cli.ts            # Node
 * deno run -A lib/cli.ts        # Deno
 * bun lib/cli.ts                # Bun
 * fetch-registry --port 5000    # the npm bin (built JS)
 * ```
 *
 * Prints the address to push to, then one line per request (see {@link formatRequestLog}). On
 * SIGINT or SIGTERM it stops accepting connections, lets in-flight requests finish (at most 10 s)
 * and exits 0; a second signal exits at once. Failures to start are one line on stderr, exit 1;
 * a bad command line exits 2.
 *
 * @module
 */
import process from "node:process";
import { formatRequestLog } from "./server/log.ts";
import { detectRuntime, type ServerKind } from "./server/serve.ts";
import { type StartedRegistry, startRegistry } from "./server/start.ts";
import { AddressInUseError } from "./server/types.ts";
import { DEFAULT_STORAGE_SPEC, StorageSpecError } from "./storage/from_spec.ts";

const USAGE = `fetch-registry: an OCI container registry

Usage: fetch-registry [--host ADDRESS] [--port PORT] [--storage STORAGE] [--server KIND]

Options:
  --host ADDRESS     address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port PORT        TCP port (default 5000; 0 picks a free one)
  --storage STORAGE  memory | fs:DIR | s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION]
                     (default ${DEFAULT_STORAGE_SPEC}); S3 credentials from AWS_ACCESS_KEY_ID and
                     AWS_SECRET_ACCESS_KEY
  --server KIND      auto (default: Bun.serve on Bun, node:http on Node and Deno), native
                     (Deno.serve / Bun.serve) or node (node:http on any runtime)
  -h, --help         show this help

Runs as: npx tsx lib/cli.ts | bun lib/cli.ts
        | deno run -A --v8-flags=--expose-gc,--max-semi-space-size=1 lib/cli.ts
Logs one line per request: time method path status bytes duration.
SIGINT/SIGTERM: finish in-flight requests (up to 10 s), then exit; a second signal exits at once.`;

/** How long a graceful stop may wait for in-flight requests. */
const STOP_TIMEOUT_MS = 10_000;

/** The parsed command line. */
interface CliOptions {
  host: string;
  port: number;
  storage: string;
  server: ServerKind;
  help: boolean;
}

/** A command-line mistake: printed as one line, exit 2. */
class UsageError extends Error {}

function parseArgs(args: string[]): CliOptions {
  const options: CliOptions = {
    host: "127.0.0.1",
    port: 5000,
    storage: DEFAULT_STORAGE_SPEC,
    server: "auto",
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h" || arg === "--help") {
      options.help = true;
      continue;
    }
    const match = /^--(host|port|storage|server)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      throw new UsageError(
        arg.startsWith("-") ? `unknown flag ${arg}` : `unexpected argument ${JSON.stringify(arg)}`,
      );
    }
    const name = match[1] as "host" | "port" | "storage" | "server";
    let value = match[2];
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`--${name} needs a value`);
      value = args[++i];
    }
    if (name === "port") {
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
        throw new UsageError(
          `--port must be a number from 0 to 65535, not ${JSON.stringify(value)}`,
        );
      }
      options.port = Number(value);
    } else if (name === "server") {
      if (value !== "auto" && value !== "native" && value !== "node") {
        throw new UsageError(`--server must be auto, native or node, not ${JSON.stringify(value)}`);
      }
      options.server = value;
    } else {
      if (value === "") throw new UsageError(`--${name} needs a value`);
      options[name] = value;
    }
  }
  return options;
}

/** The one line shown for a failure to start. */
function describeStartError(error: unknown, options: CliOptions): string {
  if (error instanceof AddressInUseError) {
    return `port ${options.port} on ${options.host} is already in use (choose another with --port)`;
  }
  if (error instanceof StorageSpecError) return error.message;
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
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message} (see --help)`, 2);
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Signal handlers go in before the server starts, so that no signal can find the process
  // without them (a signal during start-up exits at once: nothing is in flight yet).
  let registry: StartedRegistry | undefined;
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
    registry.close({ timeoutMs: STOP_TIMEOUT_MS }).then(
      () => process.exit(0),
      (error: unknown) => fail(`error while stopping: ${(error as Error)?.message ?? error}`, 1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  try {
    registry = await startRegistry({
      host: options.host,
      port: options.port,
      storage: options.storage,
      server: options.server,
      onRequest: (entry) => process.stdout.write(`${formatRequestLog(entry)}\n`),
    });
  } catch (error) {
    fail(describeStartError(error, options), 1);
  }
  const started = registry;
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
      `${options.storage}) — push to ${pushHost}/<name>\n`,
  );
}

main().catch((error: unknown) => fail(String((error as Error)?.message ?? error), 1));
