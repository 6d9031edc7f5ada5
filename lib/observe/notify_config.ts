/**
 * Webhook endpoint settings: the `--notify URL` simple form and the JSON file of
 * `--notify-config`, parsed and validated with errors that name the offending field.
 *
 * @module
 */
import type { RegistryAction } from "./outcome.ts";

/** One webhook endpoint, resolved (every field has its value). */
export interface NotifyEndpoint {
  /** Name in metrics and logs (default: the URL's host). */
  name: string;
  /** Where envelopes are POSTed (http or https). */
  url: string;
  /** Extra request headers (e.g. `Authorization`). */
  headers: Record<string, string>;
  /** One delivery attempt's time limit, ms. Default 5000. */
  timeoutMs: number;
  /** First wait after a failed attempt, ms; doubles per failure. Default 1000. */
  backoffMs: number;
  /** Longest wait between attempts, ms. Default 30000. */
  maxBackoffMs: number;
  /** Attempts per envelope before its events are dropped. Default 10. */
  maxAttempts: number;
  /** Most events waiting for this endpoint; more are dropped. Default 1000. */
  queueSize: number;
  /** Most events per envelope. Default 16. */
  batchSize: number;
  /** Only these actions (default: all). */
  actions?: RegistryAction[];
  /** Only targets of these media types (default: all); deletes carry none and always pass. */
  mediaTypes?: string[];
}

/** The `--notify-config` file: `{"endpoints":[{...}]}`. */
export interface NotifyConfig {
  /** The endpoints, each with its own queue. */
  endpoints: NotifyEndpoint[];
}

/** A notification setting that cannot be used; the message names the field. */
export class NotifyConfigError extends Error {
  /** @param message Which field, and what is wrong with it. */
  constructor(message: string) {
    super(message);
    this.name = "NotifyConfigError";
  }
}

const ACTIONS: readonly RegistryAction[] = ["push", "pull", "delete", "mount"];
const DEFAULTS = {
  timeoutMs: 5000,
  backoffMs: 1000,
  maxBackoffMs: 30000,
  maxAttempts: 10,
  queueSize: 1000,
  batchSize: 16,
};
const KEYS = new Set([
  "name",
  "url",
  "headers",
  "timeout",
  "backoff",
  "maxBackoff",
  "maxAttempts",
  "queueSize",
  "batchSize",
  "actions",
  "mediaTypes",
]);
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60000 };
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function fail(where: string, problem: string): never {
  throw new NotifyConfigError(`${where}: ${problem}`);
}

function checkUrl(where: string, value: unknown): string {
  if (typeof value !== "string") fail(where, "must be a string URL");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(where, `not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    fail(where, `must be an http or https URL, not ${url.protocol}`);
  }
  return url.href;
}

/** A duration: a number of milliseconds, or a string like `500ms`, `5s`, `1m`. */
function duration(where: string, value: unknown, min: number, max: number): number {
  let ms: number;
  if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim());
    if (!m) fail(where, `not a duration (e.g. "500ms", "5s", "1m", or milliseconds): ${value}`);
    ms = Number(m[1]) * UNITS[m[2]];
  } else fail(where, "must be a duration string or a number of milliseconds");
  if (!Number.isFinite(ms) || ms < min || ms > max) {
    fail(where, `must be between ${min} ms and ${max} ms`);
  }
  return Math.round(ms);
}

function integer(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(where, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function strings(where: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    fail(where, "must be an array of strings");
  }
  return value as string[];
}

function parseEndpoint(where: string, raw: unknown): NotifyEndpoint {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(where, "not an object");
  const e = raw as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!KEYS.has(key)) fail(`${where}.${key}`, `unknown field (known: ${[...KEYS].join(", ")})`);
  }
  const url = checkUrl(`${where}.url`, e.url);
  const name = e.name === undefined ? new URL(url).host : e.name;
  if (typeof name !== "string" || name === "") fail(`${where}.name`, "must be a non-empty string");
  const headers: Record<string, string> = {};
  if (e.headers !== undefined) {
    const h = e.headers;
    if (typeof h !== "object" || h === null || Array.isArray(h)) {
      fail(`${where}.headers`, "must be an object of header names to strings");
    }
    for (const [k, v] of Object.entries(h)) {
      if (!TOKEN.test(k)) fail(`${where}.headers`, `not a header name: ${JSON.stringify(k)}`);
      if (typeof v !== "string" || /[\r\n\0]/.test(v)) {
        fail(`${where}.headers.${k}`, "must be a string without line breaks");
      }
      headers[k] = v;
    }
  }
  const endpoint: NotifyEndpoint = {
    name,
    url,
    headers,
    timeoutMs: e.timeout === undefined
      ? DEFAULTS.timeoutMs
      : duration(`${where}.timeout`, e.timeout, 1, 600_000),
    backoffMs: e.backoff === undefined
      ? DEFAULTS.backoffMs
      : duration(`${where}.backoff`, e.backoff, 0, 3_600_000),
    maxBackoffMs: e.maxBackoff === undefined
      ? DEFAULTS.maxBackoffMs
      : duration(`${where}.maxBackoff`, e.maxBackoff, 0, 3_600_000),
    maxAttempts: e.maxAttempts === undefined
      ? DEFAULTS.maxAttempts
      : integer(`${where}.maxAttempts`, e.maxAttempts, 1, 1000),
    queueSize: e.queueSize === undefined
      ? DEFAULTS.queueSize
      : integer(`${where}.queueSize`, e.queueSize, 1, 1_000_000),
    batchSize: e.batchSize === undefined
      ? DEFAULTS.batchSize
      : integer(`${where}.batchSize`, e.batchSize, 1, 1000),
  };
  if (endpoint.maxBackoffMs < endpoint.backoffMs) endpoint.maxBackoffMs = endpoint.backoffMs;
  if (e.actions !== undefined) {
    const actions = strings(`${where}.actions`, e.actions);
    for (const a of actions) {
      if (!ACTIONS.includes(a as RegistryAction)) {
        fail(`${where}.actions`, `unknown action ${JSON.stringify(a)} (known: ${ACTIONS})`);
      }
    }
    endpoint.actions = actions as RegistryAction[];
  }
  if (e.mediaTypes !== undefined) {
    endpoint.mediaTypes = strings(`${where}.mediaTypes`, e.mediaTypes);
  }
  return endpoint;
}

/**
 * Parse and validate a `--notify-config` file's text.
 *
 * @example
 * ```ts
 * const config = parseNotifyConfig(`{"endpoints":[{"url":"https://hooks.example/registry",
 *   "headers":{"Authorization":"Bearer t"},"timeout":"2s","actions":["push","delete"]}]}`);
 * ```
 * @throws {NotifyConfigError} naming the field and the problem.
 */
export function parseNotifyConfig(text: string): NotifyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    fail("notify config", `not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    fail("notify config", 'must be an object like {"endpoints":[...]}');
  }
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== "endpoints") fail(key, "unknown field (known: endpoints)");
  }
  if (!Array.isArray(top.endpoints)) fail("endpoints", "must be an array");
  const endpoints = top.endpoints.map((e, i) => parseEndpoint(`endpoints[${i}]`, e));
  const names = new Set<string>();
  endpoints.forEach((e, i) => {
    if (names.has(e.name)) fail(`endpoints[${i}].name`, `duplicate name ${JSON.stringify(e.name)}`);
    names.add(e.name);
  });
  return { endpoints };
}

/**
 * The endpoint of a `--notify URL` flag: that URL with every default.
 *
 * @example
 * ```ts
 * endpointFromUrl("http://127.0.0.1:9000/events").timeoutMs; // 5000
 * ```
 * @throws {NotifyConfigError} when the URL is not http(s).
 */
export function endpointFromUrl(url: string): NotifyEndpoint {
  return parseEndpoint("--notify", { url });
}
