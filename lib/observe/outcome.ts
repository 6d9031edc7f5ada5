/**
 * What the handler tells an observer once per request: the request, the response, the route it
 * matched and, after a successful push, pull, delete or mount, what was touched. The handler core
 * only imports these types; everything that reacts to them (events, webhooks) lives beside them.
 *
 * @module
 */
import type { RouteName } from "../router.ts";

/** The registry actions that make notification events (distribution's names). */
export type RegistryAction = "push" | "pull" | "delete" | "mount";

/** What a successful push, pull, delete or mount touched, as the route that did it knows it. */
export interface ObservedAction {
  /** What happened. */
  action: RegistryAction;
  /** Manifest or blob digest (absent for a delete by tag). */
  digest?: string;
  /** Content size in bytes (absent for deletes). */
  size?: number;
  /** Manifest media type, or `application/octet-stream` for blobs (absent for deletes). */
  mediaType?: string;
  /** The tag a manifest was pushed, pulled or deleted by, when the request named one. */
  tag?: string;
  /** The repository a blob was mounted from (mounts only). */
  fromRepository?: string;
  /** Whether the target is a manifest (else a blob). */
  manifest: boolean;
}

/** One answered request, as {@link RequestObserver} receives it. */
export interface RequestOutcome {
  /** The request as the handler received it. */
  readonly request: Request;
  /** The response the handler returns (its body untouched: do not read it). */
  readonly response: Response;
  /** The matched route, or undefined when no route matched (404). */
  readonly route: RouteName | undefined;
  /** The repository name ("" for `/v2/`, `_catalog`, and unmatched or invalid names). */
  readonly repository: string;
  /** Set after a successful push, pull, delete or mount; undefined otherwise. */
  readonly action: ObservedAction | undefined;
  /** The authenticated identity's name, when an access-control stage knows it. */
  readonly actor?: string;
}

/**
 * Called by the handler once per request, after the response is made and before it is returned.
 * Must not throw (the handler ignores what it throws) and must not block: queue work instead.
 */
export type RequestObserver = (outcome: RequestOutcome) => void;
