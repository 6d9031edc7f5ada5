/**
 * The command line of the `fetch-registry` command: its usage text and its parser.
 *
 * @module
 */
import { parseDuration } from "./duration.ts";
import { DEFAULT_STORAGE_SPEC } from "./from_spec.ts";
import type { ServerKind } from "../server/serve.ts";

/** The `--help` text. */
export const USAGE = `fetch-registry: an OCI container registry

Usage: fetch-registry [--host ADDRESS] [--port PORT] [--storage STORAGE] [--server KIND]
       fetch-registry gc --storage STORAGE [--grace 1h] [--untagged] [--dry-run]  (gc --help)

Options:
  --host ADDRESS     address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port PORT        TCP port (default 5000; 0 picks a free one)
  --storage STORAGE  memory | fs:DIR | s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION]
                     (default ${DEFAULT_STORAGE_SPEC}); S3 credentials from AWS_ACCESS_KEY_ID and
                     AWS_SECRET_ACCESS_KEY
  --server KIND      auto (default: Bun.serve on Bun, node:http on Node and Deno), native
                     (Deno.serve / Bun.serve) or node (node:http on any runtime)
  --gc-interval DURATION  collect garbage in the background every DURATION (30s, 10m, 1h, 7d),
                     one replica at a time (the storage's lease); needs memory or fs storage
  --upload-ttl DURATION   upload sessions older than this are refused and purged (default 24h)
  --metrics          serve Prometheus metrics on /metrics
  --metrics-port PORT  serve them on their own listener instead (same --host), not on the
                     registry's port (implies --metrics)
  --log-format FORMAT  text (default: one line per request) or json (one object per request,
                     with the request id also sent back as X-Request-Id)
  --notify URL       POST push/pull/delete/mount events to URL (repeatable)
  --notify-config FILE  webhook endpoints as JSON: url, headers, timeout, backoff, filters
  -h, --help         show this help
  -v, --version      print the version

Access control and TLS (README "## Access control"):
  --htpasswd FILE        users for Basic auth (bcrypt lines, "htpasswd -B"); alone: Basic mode
  --access FILE          JSON access policy (default: users may do everything, anonymous nothing)
  --token-key FILE       PEM private key (EC P-256, RSA >= 2048, Ed25519): built-in token service
                         at /token, users from --htpasswd
  --token-service NAME   token service name, the tokens' aud (default fetch-registry)
  --token-issuer NAME    the tokens' iss (default: the service name)
  --token-ttl SECONDS    lifetime of issued tokens (default 300)
  --token-realm URL      where clients get tokens: with --token-jwks, an external token server;
                         with --token-key, overrides the default (/token at the URL clients used)
  --token-jwks FILE      the external token server's public keys (JWKS JSON): verify only
  --tls-cert FILE        PEM certificate (chain) to serve HTTPS, with --tls-key
  --tls-key FILE         PEM private key of --tls-cert

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
  /** `--htpasswd`: an htpasswd file (Basic users). */
  htpasswd?: string;
  /** `--access`: a JSON policy file. */
  access?: string;
  /** `--token-key`: the built-in token service's PEM private key file. */
  tokenKey?: string;
  /** `--token-service`: the service name (`aud`). */
  tokenService?: string;
  /** `--token-issuer`: the issuer (`iss`). */
  tokenIssuer?: string;
  /** `--token-ttl`: lifetime of issued tokens, seconds. */
  tokenTtl?: number;
  /** `--token-realm`: the token endpoint clients are sent to. */
  tokenRealm?: string;
  /** `--token-jwks`: the external issuer's JWKS file. */
  tokenJwks?: string;
  /** `--tls-cert`: PEM certificate file. */
  tlsCert?: string;
  /** `--tls-key`: PEM private key file of the certificate. */
  tlsKey?: string;
  /** `--gc-interval`: ms between background garbage collections (none when absent). */
  gcIntervalMs?: number;
  /** `--upload-ttl`: the handler's `uploadTtlMs` (its default when absent). */
  uploadTtlMs?: number;
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
    const authMatch = AUTH_FLAG.exec(arg);
    if (authMatch) {
      let value = authMatch[2];
      if (value === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`--${authMatch[1]} needs a value`);
        value = args[++i];
      }
      setAuthFlag(options, authMatch[1] as AuthFlag, value);
      continue;
    }
    const lifecycle = /^--(gc-interval|upload-ttl)(?:=(.*))?$/s.exec(arg);
    if (lifecycle) {
      let text = lifecycle[2];
      if (text === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`--${lifecycle[1]} needs a value`);
        text = args[++i];
      }
      const ms = parseDuration(text);
      if (ms === undefined || ms === 0) {
        throw new UsageError(
          `--${lifecycle[1]} must be a duration like 30s, 10m, 1h or 7d, not ${
            JSON.stringify(text)
          }`,
        );
      }
      if (lifecycle[1] === "gc-interval") options.gcIntervalMs = ms;
      else options.uploadTtlMs = ms;
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
  checkAuthFlags(options);
  return options;
}

// Access control and TLS flags (issue 11).

const AUTH_FLAGS = {
  "htpasswd": "htpasswd",
  "access": "access",
  "token-key": "tokenKey",
  "token-service": "tokenService",
  "token-issuer": "tokenIssuer",
  "token-realm": "tokenRealm",
  "token-jwks": "tokenJwks",
  "tls-cert": "tlsCert",
  "tls-key": "tlsKey",
} as const;
type AuthFlag = keyof typeof AUTH_FLAGS | "token-ttl";
const AUTH_FLAG =
  /^--(htpasswd|access|token-key|token-service|token-issuer|token-ttl|token-realm|token-jwks|tls-cert|tls-key)(?:=(.*))?$/s;

function setAuthFlag(options: CliOptions, flag: AuthFlag, value: string): void {
  if (value === "") throw new UsageError(`--${flag} needs a value`);
  if (flag === "token-ttl") {
    if (!/^\d{1,9}$/.test(value) || Number(value) < 1) {
      throw new UsageError(
        `--token-ttl must be a whole number of seconds above 0, not ${JSON.stringify(value)}`,
      );
    }
    options.tokenTtl = Number(value);
    return;
  }
  if (flag === "token-realm" && !/^https?:\/\/[^\s]+$/.test(value)) {
    throw new UsageError(
      `--token-realm must be an http:// or https:// URL, not ${JSON.stringify(value)}`,
    );
  }
  options[AUTH_FLAGS[flag]] = value;
}

/** Combinations of the access-control and TLS flags that cannot work, as usage errors. */
function checkAuthFlags(o: CliOptions): void {
  const fail = (why: string) => {
    throw new UsageError(why);
  };
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
    fail(
      o.tlsCert
        ? "--tls-cert needs --tls-key (the certificate's private key)"
        : "--tls-key needs --tls-cert",
    );
  }
  if (o.tokenKey !== undefined && o.tokenJwks !== undefined) {
    fail(
      "--token-key (built-in token service) and --token-jwks (external token server) exclude each other",
    );
  }
  if (o.tokenJwks !== undefined) {
    if (o.tokenRealm === undefined) {
      fail("--token-jwks needs --token-realm (the external token server's URL)");
    }
    if (o.htpasswd !== undefined) {
      fail(
        "--htpasswd does not apply with --token-jwks: the external token server checks passwords",
      );
    }
    if (o.access !== undefined) {
      fail("--access does not apply with --token-jwks: the tokens' access claim decides");
    }
    if (o.tokenTtl !== undefined) {
      fail("--token-ttl does not apply with --token-jwks: the external server sets lifetimes");
    }
    return;
  }
  if (o.tokenKey !== undefined) {
    if (o.htpasswd === undefined) {
      fail("--token-key needs --htpasswd (the users of the token service)");
    }
    return;
  }
  if (o.tokenRealm !== undefined) {
    fail("--token-realm needs --token-jwks (external token server) or --token-key");
  }
  for (const flag of ["tokenService", "tokenIssuer", "tokenTtl"] as const) {
    if (o[flag] !== undefined) {
      const name = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      fail(
        `${name} needs --token-key (built-in token service) or --token-jwks (external token server)`,
      );
    }
  }
  if (o.access !== undefined && o.htpasswd === undefined) {
    fail("--access needs users: give --htpasswd (Basic) or --token-key with --htpasswd (tokens)");
  }
}
