/**
 * The command line of the `fetch-registry` command: its usage text and its parser.
 *
 * @module
 */
import { DEFAULT_STORAGE_SPEC } from "./from_spec.ts";
import type { ServerKind } from "../server/serve.ts";

/** The `--help` text. */
export const USAGE = `fetch-registry: an OCI container registry

Usage: fetch-registry [--host ADDRESS] [--port PORT] [--storage STORAGE] [--server KIND]

Options:
  --host ADDRESS     address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port PORT        TCP port (default 5000; 0 picks a free one)
  --storage STORAGE  memory | fs:DIR | s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION]
                     (default ${DEFAULT_STORAGE_SPEC}); S3 credentials from AWS_ACCESS_KEY_ID and
                     AWS_SECRET_ACCESS_KEY
  --server KIND      auto (default: Bun.serve on Bun, node:http on Node and Deno), native
                     (Deno.serve / Bun.serve) or node (node:http on any runtime)
  --metrics          serve Prometheus metrics on /metrics
  --metrics-port PORT  serve them on their own listener instead (same --host), not on the
                     registry's port (implies --metrics)
  --log-format FORMAT  text (default: one line per request) or json (one object per request,
                     with the request id also sent back as X-Request-Id)
  --notify URL       POST push/pull/delete/mount events to URL (repeatable)
  --notify-config FILE  webhook endpoints as JSON: url, headers, timeout, backoff, filters
  -h, --help         show this help
  -v, --version      print the version

Run it as \`fetch-registry\` (installed), \`npx fetch-registry\` (a project depending on it) or,
in a clone of the repository, \`npm start -- [options]\` (npm keeps options before \`--\`).
Logs one line per request: time method path status in=BYTES out=BYTES duration.
Always answers GET /healthz (the process lives) and GET /readyz (storage answers within 2 s).
SIGINT/SIGTERM: finish in-flight requests (up to 10 s), deliver queued notifications (up to 5 s),
then exit; a second signal exits at once.`;

/** The parsed command line. */
export interface CliOptions {
  /** `--host`: the address to listen on. */
  host: string;
  /** `--port`: the TCP port. */
  port: number;
  /** `--storage`: the storage description (see from_spec.ts). */
  storage: string;
  /** `--server`: which server. */
  server: ServerKind;
  /** `--metrics` (or `--metrics-port`): serve Prometheus metrics. */
  metrics: boolean;
  /** `--metrics-port`: serve metrics on this port instead of the registry's. */
  metricsPort?: number;
  /** `--log-format`: the access log's format. */
  logFormat: "text" | "json";
  /** `--notify` (repeatable): webhook URLs. */
  notify: string[];
  /** `--notify-config`: a webhook configuration file. */
  notifyConfig?: string;
  /** `-h`, `--help`. */
  help: boolean;
  /** `-v`, `--version`. */
  version: boolean;
}

/**
 * When run by an npm script, the hint for an argument whose flag npm took: `npm start --port 6150`
 * gives the script `6150` alone (npm reads flags before `--` as its own config, here
 * `npm_config_port=true`).
 */
function npmAteFlag(arg: string, env: Record<string, string | undefined>): string {
  if (!env.npm_lifecycle_event || env.npm_lifecycle_event === "npx") return "";
  const script = env.npm_lifecycle_event === "start"
    ? "npm start"
    : `npm run ${env.npm_lifecycle_event}`;
  const flag = ["port", "host", "storage", "server"].find((f) => env[`npm_config_${f}`] === "true");
  const example = flag ? `--${flag} ${arg}` : "--port 6150";
  return `: npm keeps the options given before "--" for itself; put them after it: ` +
    `${script} -- ${example}`;
}

/** A command-line mistake: printed as one line, exit 2. */
export class UsageError extends Error {}

/**
 * Parse the arguments (without the runtime and script). Throws {@link UsageError} for a mistake.
 * `env` (the process environment) only improves the message for a flag npm kept for itself.
 *
 * @example
 * ```ts
 * parseArgs(["--port", "0", "--storage", "memory"]).port; // 0
 * ```
 */
export function parseArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): CliOptions {
  const options: CliOptions = {
    host: "127.0.0.1",
    port: 5000,
    storage: DEFAULT_STORAGE_SPEC,
    server: "auto",
    metrics: false,
    logFormat: "text",
    notify: [],
    help: false,
    version: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h" || arg === "--help") {
      options.help = true;
      continue;
    }
    if (arg === "-v" || arg === "--version") {
      options.version = true;
      continue;
    }
    // Observability flags (issue 15).
    if (arg === "--metrics") {
      options.metrics = true;
      continue;
    }
    const observe = /^--(metrics-port|log-format|notify|notify-config)(?:=(.*))?$/s.exec(arg);
    if (observe) {
      const flag = observe[1];
      let value = observe[2];
      if (value === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`--${flag} needs a value`);
        value = args[++i];
      }
      if (flag === "metrics-port") {
        if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
          throw new UsageError(
            `--metrics-port must be a number from 0 to 65535, not ${JSON.stringify(value)}`,
          );
        }
        options.metrics = true;
        options.metricsPort = Number(value);
      } else if (flag === "log-format") {
        if (value !== "text" && value !== "json") {
          throw new UsageError(`--log-format must be text or json, not ${JSON.stringify(value)}`);
        }
        options.logFormat = value;
      } else if (value === "") {
        throw new UsageError(`--${flag} needs a value`);
      } else if (flag === "notify") {
        options.notify.push(value);
      } else {
        options.notifyConfig = value;
      }
      continue;
    }
    const match = /^--(host|port|storage|server)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      if (arg.startsWith("-")) throw new UsageError(`unknown flag ${arg}`);
      throw new UsageError(
        `unexpected argument ${JSON.stringify(arg)}${npmAteFlag(arg, env)}`,
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
