/**
 * The client address of a request a server received, remembered per Request object (a Request
 * carries no peer address of its own): the servers record it, wrappers outside the handler core
 * (logs, events) read it.
 *
 * @module
 */

const peers = new WeakMap<Request, string>();

/**
 * The address (`ip:port`, IPv6 in brackets) of the client that sent `request`, when a server of
 * this package received it and knew the peer.
 *
 * @example
 * ```ts
 * const server = await serve((request) => new Response(remoteAddress(request) ?? "?"));
 * ```
 */
export function remoteAddress(request: Request): string | undefined {
  return peers.get(request);
}

/** Record `address` as the client address of `request` (nothing when it is undefined). */
export function setRemoteAddress(request: Request, address: string | undefined): void {
  if (address !== undefined) peers.set(request, address);
}
