/**
 * The connections of a node:http server and the requests in flight on each, so that a graceful
 * close ends every idle connection itself. `server.closeIdleConnections()` leaves open a
 * connection that has not sent a request yet, on Node as on Deno (a client's spare pooled
 * connection, Deno's fetch opens one while a chunked response is read; a TCP health check), and
 * `server.close()` then waited for its timeout (10 s) on it.
 *
 * @module
 */
import type { Socket } from "node:net";

/** Requests in flight per connection; once closing, ends the connections that have none. */
export class ConnectionTracker {
  readonly #inFlight = new Map<Socket, number>();
  #closing = false;

  /** Whether {@link closeIdle} has been called: the server is closing. */
  get closing(): boolean {
    return this.#closing;
  }

  /** A connection was accepted (Deno's node:http may tell after its first request). */
  opened(socket: Socket): void {
    if (this.#inFlight.has(socket)) return;
    this.#inFlight.set(socket, 0);
    socket.once("close", () => this.#inFlight.delete(socket));
  }

  /** A request has started on `socket`. */
  started(socket: Socket): void {
    this.opened(socket);
    this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1);
  }

  /** A request on `socket` is over: its response was handed to the socket, or it was aborted. */
  finished(socket: Socket): void {
    const count = this.#inFlight.get(socket);
    if (count === undefined) return;
    this.#inFlight.set(socket, count - 1);
    if (this.#closing && count <= 1) socket.destroy();
  }

  /**
   * Closing: end every connection with no request in flight now (what it was sent is already with
   * the operating system), and each other one as its last request finishes.
   */
  closeIdle(): void {
    this.#closing = true;
    for (const [socket, count] of this.#inFlight) if (count <= 0) socket.destroy();
  }
}
