/**
 * Types shared by the per-runtime servers (node.ts, deno.ts, bun.ts) and `startRegistry`.
 *
 * @module
 */

/**
 * A Web-standard fetch handler, such as `createRegistry().fetch`. The client's address of a
 * request a server passes is `remoteAddress(request)` (remote_address.ts).
 */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** One finished request, as the servers report it to {@link ServeOptions.onRequest}. */
export interface RequestLogEntry {
  /** Request method. */
  method: string;
  /** Path and query of the request target. */
  path: string;
  /** Response status (0 if no response could be produced). */
  status: number;
  /** Request body bytes received. */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
  /** Body bytes transferred both ways: `bytesIn + bytesOut`. */
  bytes: number;
  /** Milliseconds from the request's arrival to the end of the response. */
  ms: number;
  /** True when the client went away before the response was complete. */
  aborted: boolean;
  /** The Request given to the handler (absent when none could be built from the request). */
  request?: Request;
  /** The client's address, `ip:port`, when the server knows it. */
  remoteAddr?: string;
}

/** Options every server takes. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  hostname?: string;
  /**
   * Close a connection that has neither sent nor received anything for this long, in
   * milliseconds. Default 120000. (There is no limit on a whole request's duration: a large, slow
   * upload is fine as long as bytes keep moving.) Bun caps it at 255 s; Deno.serve has no such
   * setting and ignores it.
   */
  idleTimeoutMs?: number;
  /** Called once per finished request (for access logs). */
  onRequest?: (entry: RequestLogEntry) => void;
  /**
   * Run a cheap garbage collection after this many bytes of body traffic, so that dead body
   * chunks do not pile up (see gc_nudge.ts). Default: 8 MiB on Node; 2 MiB on Deno, where it only
   * works when Deno was started with `--v8-flags=--expose-gc`; off on Bun. 0 turns it off.
   */
  gcNudgeBytes?: number;
  /** Called when a handler throws (the registry's handler never does). Default: console.error. */
  onError?: (error: unknown) => void;
  /** Serve HTTPS with this certificate and key (PEM text); the URL becomes `https://`. */
  tls?: TlsOptions;
}

/** A TLS certificate and its private key, both PEM text. */
export interface TlsOptions {
  /** The certificate, or a chain: the server's first, then intermediates. */
  cert: string;
  /** The certificate's private key. */
  key: string;
}

/** Options of {@link RunningServer.close}. */
export interface CloseOptions {
  /**
   * How long in-flight requests may take to finish before their connections are cut, in
   * milliseconds. Default 10000.
   */
  timeoutMs?: number;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:5000`. */
  readonly url: string;
  /** `hostname:port` (IPv6 in brackets), the form image references use: `127.0.0.1:5000`. */
  readonly host: string;
  /** The address listened on. */
  readonly hostname: string;
  /** The port listened on (the chosen one when 0 was asked for). */
  readonly port: number;
  /**
   * Stop accepting connections, let in-flight requests finish (bounded by `timeoutMs`, after
   * which their connections are cut), then resolve. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** Default idle timeout of a connection, in milliseconds. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/** Default bound on a graceful close, in milliseconds. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** `host:port` for an address, with IPv6 in brackets. */
export function formatHost(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Thrown by the servers when the address is already taken (normalised across runtimes, whose
 * own errors differ).
 */
export class AddressInUseError extends Error {
  /** Always `EADDRINUSE`, as on Node. */
  readonly code = "EADDRINUSE";
  /**
   * @param hostname The address asked for.
   * @param port The port asked for.
   */
  constructor(hostname: string, port: number) {
    super(`address ${formatHost(hostname, port)} is already in use`);
    this.name = "AddressInUseError";
  }
}

/**
 * The error a request body fails with when the client closes the connection before sending all
 * of it. Loggers can skip it: it is the client's doing, not a server fault.
 */
export class ClientAbortError extends Error {
  /** @param message What happened. */
  constructor(message = "the client closed the connection before the request body was complete") {
    super(message);
    this.name = "ClientAbortError";
  }
}
