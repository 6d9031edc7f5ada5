/**
 * Collections on an interval, for a server: one after another (never overlapping), each under the
 * storage's lease, so that replicas sharing a storage take turns (a replica that finds the lease
 * held skips that round).
 *
 * @module
 */
import { collectGarbage, GcBusyError, type GcOptions } from "./collect.ts";
import type { GcReport } from "./report.ts";
import type { Storage } from "../storage/types.ts";

/** Options of {@link scheduleGarbageCollection}. */
export interface GcScheduleOptions extends GcOptions {
  /** Time between the end of one collection and the start of the next. */
  intervalMs: number;
  /** Told each report. */
  onReport?: (report: GcReport) => void;
  /** Told each failure (a held lease is no failure: the round is skipped). */
  onError?: (error: unknown) => void;
}

/** A running schedule. */
export interface GcSchedule {
  /** Stop scheduling; resolves once a collection in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Collect garbage in `storage` every `intervalMs`.
 *
 * @example
 * ```ts
 * const schedule = scheduleGarbageCollection(storage, { intervalMs: 3_600_000 });
 * await schedule.stop();
 * ```
 */
export function scheduleGarbageCollection(
  storage: Storage,
  options: GcScheduleOptions,
): GcSchedule {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const round = () => {
    timer = undefined;
    if (stopped) return;
    running = collectGarbage(storage, options).then(
      (report) => options.onReport?.(report),
      (error: unknown) => {
        if (!(error instanceof GcBusyError)) options.onError?.(error);
      },
    ).finally(() => {
      if (!stopped) timer = setTimeout(round, options.intervalMs);
    });
  };
  timer = setTimeout(round, options.intervalMs);
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
