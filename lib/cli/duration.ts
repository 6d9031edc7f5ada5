/**
 * Durations on the command line: a whole number and a unit, `500ms`, `30s`, `10m`, `1h`, `7d`.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Milliseconds of `text`, or `undefined` when it is not a duration.
 *
 * @example
 * ```ts
 * parseDuration("10m"); // 600000
 * parseDuration("1.5h"); // undefined: whole numbers only
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text);
  return m ? Number(m[1]) * UNITS[m[2]] : undefined;
}

/**
 * A duration for people: `1h 2m 3.4s` style, largest units first, at most two of them.
 *
 * @example
 * ```ts
 * formatDuration(3_723_000); // "1h 2m"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const parts: string[] = [];
  for (const unit of ["d", "h", "m", "s"]) {
    const n = Math.floor(ms / UNITS[unit]);
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    ms -= n * UNITS[unit];
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}
