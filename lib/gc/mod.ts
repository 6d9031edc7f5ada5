/**
 * Online garbage collection over the storage contract's gc capability.
 *
 * @module
 */
export { collectGarbage, GC_LEASE, GcBusyError, type GcOptions } from "./collect.ts";
export type { GcEvent, GcReport, Tally } from "./report.ts";
export { type GcSchedule, type GcScheduleOptions, scheduleGarbageCollection } from "./schedule.ts";
