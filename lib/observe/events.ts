/**
 * Notification events in CNCF distribution's envelope (`{"events":[...]}`, media type
 * `application/vnd.docker.distribution.events.v1+json`), made from what the handler's observer
 * hook reports, so receivers written for distribution work unchanged.
 *
 * @module
 */
import type { RegistryAction, RequestObserver, RequestOutcome } from "./outcome.ts";
import { requestId } from "./request_id.ts";
import { pathnameOf } from "./route_label.ts";

/** The media type of an event envelope (the `Content-Type` of every notification). */
export const EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json";

/** What an event is about (distribution's `target`: a descriptor plus where it lives). */
export interface TargetRecord {
  /** Manifest media type, or `application/octet-stream` for blobs; absent for deletes. */
  mediaType?: string;
  /** Content digest; absent for a delete by tag. */
  digest?: string;
  /** Content size in bytes; absent for deletes. */
  size?: number;
  /** The same as `size` (distribution still sends both). */
  length?: number;
  /** Repository name. */
  repository: string;
  /** The repository a mounted blob came from (mounts only). */
  fromRepository?: string;
  /** Absolute URL of the content; absent for deletes. */
  url?: string;
  /** Tag, when the request named one. */
  tag?: string;
}

/** The request that caused an event. */
export interface EventRequest {
  /** The request id (the `X-Request-Id` sent back). */
  id: string;
  /** Client address, when the server knows it. */
  addr?: string;
  /** The `Host` the client asked for. */
  host: string;
  /** HTTP method. */
  method: string;
  /** The client's `User-Agent`. */
  useragent: string;
}

/** Who caused an event: filled in when an access-control stage knows the identity. */
export interface EventActor {
  /** The authenticated name. */
  name?: string;
}

/** Which registry instance made an event. */
export interface EventSource {
  /** The address this registry serves on (`host:port`). */
  addr: string;
  /** A random id of this process, stable for its lifetime. */
  instanceID: string;
}

/** One notification event. */
export interface RegistryEvent {
  /** Unique event id (a UUID). */
  id: string;
  /** When it happened (RFC 3339). */
  timestamp: string;
  /** What happened. */
  action: RegistryAction;
  /** What it happened to. */
  target: TargetRecord;
  /** The request that caused it. */
  request: EventRequest;
  /** Who caused it. */
  actor: EventActor;
  /** Which instance made it. */
  source: EventSource;
}

/** The body of one notification request. */
export interface EventEnvelope {
  /** One or more events, in order. */
  events: RegistryEvent[];
}

/** Options of {@link eventFromOutcome} and {@link createEventObserver}. */
export interface EventOptions {
  /** This instance's `source.addr` (`host:port`). Default: the request's `Host`. */
  sourceAddr?: string;
  /** This instance's `source.instanceID`. Default: one random UUID per process. */
  instanceID?: string;
  /**
   * Base of the absolute `target.url` (e.g. `https://registry.example.com`). Default: the
   * request URL's origin. Paths follow the request's own (mount prefix included).
   */
  externalUrl?: string;
  /** The client's address for `request.addr` (the server knows it; the handler does not). */
  clientAddress?(request: Request): string | undefined;
  /**
   * Whether anyone wants events of this action and target media type (e.g. a notifier's
   * `wants`): events nobody wants are never built, which keeps pulls cheap when endpoints only
   * take pushes. Default: every event is built.
   */
  wants?(action: RegistryAction, mediaType: string | undefined): boolean;
}

const PROCESS_INSTANCE = crypto.randomUUID();
const BLOB_TYPE = "application/octet-stream";

/** `url`'s path up to and including `/v2/<repository>/`, or undefined. */
function repositoryPath(pathname: string, repository: string): string | undefined {
  const i = pathname.indexOf("/v2/");
  return i < 0 ? undefined : `${pathname.slice(0, i)}/v2/${repository}/`;
}

/**
 * The notification event for one request, or undefined when the request pushed, pulled, deleted
 * or mounted nothing (failures, HEADs, listings, unfinished uploads).
 *
 * @example
 * ```ts
 * const registry = createRegistry({
 *   observer: (o) => { const e = eventFromOutcome(o); if (e) console.log(e.action); },
 * });
 * ```
 */
export function eventFromOutcome(
  outcome: RequestOutcome,
  options: EventOptions = {},
): RegistryEvent | undefined {
  const { action, request, repository } = outcome;
  if (!action) return undefined;
  const href = request.url;
  const scheme = href.indexOf("//");
  let slash = href.indexOf("/", scheme < 0 ? 0 : scheme + 2);
  if (slash < 0) slash = href.length;
  const origin = href.slice(0, slash);
  const target: TargetRecord = { repository };
  if (action.action !== "delete") {
    target.mediaType = action.mediaType ?? (action.manifest ? undefined : BLOB_TYPE);
  }
  if (action.digest !== undefined) target.digest = action.digest;
  if (action.size !== undefined) {
    target.size = action.size;
    target.length = action.size;
  }
  if (action.fromRepository !== undefined) target.fromRepository = action.fromRepository;
  const base = repositoryPath(pathnameOf(href), repository);
  if (action.action !== "delete" && action.digest !== undefined && base !== undefined) {
    const prefix = (options.externalUrl ?? origin).replace(/\/+$/, "");
    target.url = `${prefix}${base}${action.manifest ? "manifests" : "blobs"}/${action.digest}`;
  }
  if (action.tag !== undefined) target.tag = action.tag;
  const host = request.headers.get("Host") ?? origin.slice(scheme < 0 ? 0 : scheme + 2);
  const req: EventRequest = {
    id: requestId(request),
    host,
    method: request.method,
    useragent: request.headers.get("User-Agent") ?? "",
  };
  const addr = options.clientAddress?.(request);
  if (addr) req.addr = addr;
  return {
    id: crypto.randomUUID(),
    timestamp: new Date().toISOString(),
    action: action.action,
    target,
    request: req,
    actor: outcome.actor !== undefined ? { name: outcome.actor } : {},
    source: {
      addr: options.sourceAddr ?? host,
      instanceID: options.instanceID ?? PROCESS_INSTANCE,
    },
  };
}

/**
 * A request observer (the `observer` option of `createRegistry`) that turns every successful push,
 * pull, delete and mount into an event and hands it to `publish` (e.g. a notifier's `publish`).
 *
 * @example
 * ```ts
 * const notifier = createNotifier({ endpoints: [endpointFromUrl("http://127.0.0.1:9000/")] });
 * const registry = createRegistry({
 *   observer: createEventObserver(notifier.publish, { wants: notifier.wants }),
 * });
 * ```
 */
export function createEventObserver(
  publish: (event: RegistryEvent) => void,
  options: EventOptions = {},
): RequestObserver {
  const wants = options.wants;
  return (outcome) => {
    const action = outcome.action;
    if (!action) return;
    if (wants) {
      const type = action.action === "delete"
        ? undefined
        : action.mediaType ?? (action.manifest ? undefined : BLOB_TYPE);
      if (!wants(action.action, type)) return;
    }
    const event = eventFromOutcome(outcome, options);
    if (event) publish(event);
  };
}

/** Several observers as one, each isolated from the others' failures. */
export function combineObservers(...observers: RequestObserver[]): RequestObserver {
  return (outcome) => {
    for (const observe of observers) {
      try {
        observe(outcome);
      } catch {
        // one observer's failure must not keep the others from seeing the request
      }
    }
  };
}
