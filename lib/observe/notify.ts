/**
 * Webhook delivery: one bounded FIFO queue per endpoint, drained by one sender that POSTs
 * envelopes of up to `batchSize` events in order, retrying a failed envelope with exponential
 * backoff before anything behind it (so each endpoint sees every repository's events in order).
 * `publish` never blocks or throws; when a queue is full, the new event is dropped and counted.
 * Every attempt has a timeout, so a hanging endpoint holds at most `queueSize` events.
 *
 * @module
 */
import { EVENTS_MEDIA_TYPE, type RegistryEvent } from "./events.ts";
import type { NotifyEndpoint } from "./notify_config.ts";
import type { RegistryAction } from "./outcome.ts";

/** Why an event was dropped. */
export type DropReason = "queue_full" | "retries_exhausted" | "shutdown";

/** Counters of one endpoint. */
export interface EndpointStats {
  /** Endpoint name. */
  readonly name: string;
  /** Events waiting, the envelope in flight included. */
  readonly pending: number;
  /** Events delivered (2xx or 3xx answer). */
  readonly delivered: number;
  /** Failed delivery attempts (error, timeout, or a status outside 2xx/3xx). */
  readonly failures: number;
  /** Events dropped, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
}

/** What {@link Notifier.close} achieved. */
export interface CloseResult {
  /** Events delivered during the close. */
  delivered: number;
  /** Events dropped at the deadline (never sent). */
  dropped: number;
}

/** Options of {@link createNotifier}. */
export interface NotifierOptions {
  /** The endpoints; each gets its own queue and sender. */
  endpoints: readonly NotifyEndpoint[];
  /** The fetch used to deliver. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Told about failed attempts and drops (endpoint name and status only: never headers). */
  log?: (message: string) => void;
}

/** Delivers events to webhook endpoints in the background. */
export interface Notifier {
  /** Queue an event for every endpoint whose filter takes it. Never blocks, never throws. */
  publish(event: RegistryEvent): void;
  /** Counters per endpoint, in configuration order. */
  stats(): EndpointStats[];
  /** Whether some endpoint's filter takes events of this action and target media type. */
  wants(action: RegistryAction, mediaType: string | undefined): boolean;
  /**
   * Stop taking events and deliver what is queued for at most `deadlineMs`; then abort what is in
   * flight and drop (and count) the rest.
   */
  close(deadlineMs: number): Promise<CloseResult>;
}

/** Whether `endpoint`'s filter takes `event`. */
export function endpointAccepts(endpoint: NotifyEndpoint, event: RegistryEvent): boolean {
  return accepts(endpoint, event.action, event.target.mediaType);
}

function accepts(endpoint: NotifyEndpoint, action: RegistryAction, type: string | undefined) {
  if (endpoint.actions && !endpoint.actions.includes(action)) return false;
  return !endpoint.mediaTypes || type === undefined || endpoint.mediaTypes.includes(type);
}

class Lane {
  readonly endpoint: NotifyEndpoint;
  #fetch: typeof fetch;
  #log: (message: string) => void;
  #queue: RegistryEvent[] = [];
  #head = 0;
  #running: Promise<void> | undefined;
  #controller: AbortController | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #stopped = false;
  delivered = 0;
  failures = 0;
  dropped: Record<DropReason, number> = { queue_full: 0, retries_exhausted: 0, shutdown: 0 };

  constructor(endpoint: NotifyEndpoint, fetcher: typeof fetch, log: (message: string) => void) {
    this.endpoint = endpoint;
    this.#fetch = fetcher;
    this.#log = log;
  }

  get pending(): number {
    return this.#queue.length - this.#head;
  }

  get idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  publish(event: RegistryEvent): void {
    if (this.#closed) {
      this.dropped.shutdown++;
      return;
    }
    if (this.pending >= this.endpoint.queueSize) {
      if (this.dropped.queue_full++ === 0) this.#log(`${this.endpoint.name}: queue full, dropping`);
      return;
    }
    this.#queue.push(event);
    // Started from a microtask: the first fetch call can do synchronous set-up work (Deno), and
    // the envelope is serialised there, none of which may run inside the caller's request.
    this.#running ??= Promise.resolve().then(() => this.#run()).finally(() => {
      this.#running = undefined;
    });
  }

  /** Take `n` events off the head. */
  #shift(n: number): void {
    this.#head += n;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  async #run(): Promise<void> {
    while (this.pending > 0 && !this.#stopped) {
      const n = Math.min(this.pending, this.endpoint.batchSize);
      const body = JSON.stringify({ events: this.#queue.slice(this.#head, this.#head + n) });
      let backoff = this.endpoint.backoffMs;
      for (let attempt = 1;; attempt++) {
        const problem = await this.#send(body);
        if (this.#stopped) return;
        if (problem === undefined) {
          this.delivered += n;
          this.#shift(n);
          break;
        }
        this.failures++;
        if (attempt >= this.endpoint.maxAttempts) {
          this.#log(
            `${this.endpoint.name}: ${problem}; dropping ${n} event(s) after ${attempt} attempts`,
          );
          this.dropped.retries_exhausted += n;
          this.#shift(n);
          break;
        }
        this.#log(`${this.endpoint.name}: ${problem}; retrying in ${backoff} ms`);
        await this.#sleep(backoff);
        if (this.#stopped) return;
        backoff = Math.min(backoff * 2, this.endpoint.maxBackoffMs);
      }
    }
  }

  /** One attempt; undefined when delivered, else what went wrong. */
  async #send(body: string): Promise<string | undefined> {
    const controller = new AbortController();
    this.#controller = controller;
    const timer = setTimeout(() => controller.abort(), this.endpoint.timeoutMs);
    try {
      const response = await this.#fetch(this.endpoint.url, {
        method: "POST",
        headers: { ...this.endpoint.headers, "Content-Type": EVENTS_MEDIA_TYPE },
        body,
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => {});
      return response.status >= 200 && response.status < 400
        ? undefined
        : `answered ${response.status}`;
    } catch (error) {
      if (controller.signal.aborted) {
        return this.#stopped
          ? "aborted at shutdown"
          : `timed out after ${this.endpoint.timeoutMs} ms`;
      }
      return `failed: ${(error as Error)?.message ?? error}`;
    } finally {
      clearTimeout(timer);
      this.#controller = undefined;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Stop taking events. */
  close(): void {
    this.#closed = true;
  }

  /** Abort what is in flight and drop what is queued (the deadline passed). */
  stop(): number {
    this.#stopped = true;
    this.#controller?.abort();
    this.#wake?.();
    const left = this.pending;
    this.dropped.shutdown += left;
    this.#queue = [];
    this.#head = 0;
    return left;
  }

  stats(): EndpointStats {
    const { name } = this.endpoint;
    const { pending, delivered, failures } = this;
    return { name, pending, delivered, failures, dropped: { ...this.dropped } };
  }
}

/**
 * Start delivering events to webhook endpoints.
 *
 * @example
 * ```ts
 * const notifier = createNotifier({ endpoints: [endpointFromUrl("http://127.0.0.1:9000/")] });
 * const registry = createRegistry({ observer: createEventObserver(notifier.publish) });
 * // at shutdown:
 * await notifier.close(5000);
 * ```
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const fetcher = options.fetch ?? ((input, init) => fetch(input, init));
  const log = options.log ?? (() => {});
  const lanes = options.endpoints.map((e) => new Lane(e, fetcher, log));
  return {
    publish(event) {
      for (const lane of lanes) {
        try {
          if (endpointAccepts(lane.endpoint, event)) lane.publish(event);
        } catch {
          // publish never throws into the request path
        }
      }
    },
    stats: () => lanes.map((lane) => lane.stats()),
    wants: (action, type) => lanes.some((lane) => accepts(lane.endpoint, action, type)),
    async close(deadlineMs) {
      const before = lanes.reduce((n, l) => n + l.delivered, 0);
      for (const lane of lanes) lane.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
      await Promise.race([Promise.all(lanes.map((l) => l.idle)), deadline]);
      clearTimeout(timer);
      const dropped = lanes.reduce((n, lane) => n + lane.stop(), 0);
      await Promise.all(lanes.map((l) => l.idle));
      const delivered = lanes.reduce((n, l) => n + l.delivered, 0) - before;
      return { delivered, dropped };
    },
  };
}
