/**
 * The report: medians per figure and server, ratios to distribution, targets met or missed, the
 * per-run values, the microbenchmarks, and the machine details, as Markdown.
 *
 * @module
 */
import { type BenchSettings, type Figure, WARM_UP_SIZE } from "./figures.ts";
import type { MachineInfo } from "./machine.ts";

/** Measured values: figure id → server id → one value per run. */
export type Values = Record<string, Record<string, number[]>>;
/** Failures: figure id → server id → messages. */
export type Failures = Record<string, Record<string, string[]>>;

/** One runtime's microbenchmark results (bench/micro.ts --json). */
export interface MicroResult {
  runtime: string;
  results: Array<{ name: string; avgNs?: number; p99Ns?: number; mbPerS?: number; error?: string }>;
}

/** Everything the report shows. */
export interface ReportData {
  machine: MachineInfo;
  loadAverageEnd: string;
  settings: BenchSettings & { runs: number; pinned: boolean };
  command: string;
  /** Server ids in column order (measured ones). */
  servers: string[];
  /** Servers not measured, with the reason. */
  skipped: Record<string, string>;
  values: Values;
  failures: Failures;
  micro: MicroResult[];
  notes: string[];
}

/** The median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function size(bytes: number): string {
  return bytes >= 2 ** 30 && bytes % 2 ** 30 === 0
    ? `${bytes / 2 ** 30} GiB`
    : `${bytes / 2 ** 20} MiB`;
}

function label(figure: Figure, settings: BenchSettings): string {
  return figure.label
    .replace("{size}", size(settings.size))
    .replace("{big}", size(settings.big))
    .replace("{c}", String(settings.connections))
    .replace("{tags}", settings.tags.toLocaleString("en-US"));
}

function fmt(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function targetText(figure: Figure): string {
  if (figure.target?.ratio !== undefined) return `≥ ${figure.target.ratio}×`;
  if (figure.target?.max !== undefined) return `≤ ${figure.target.max} ${figure.unit}`;
  return "";
}

/** Whether `value` (with `ratio` to distribution) meets the figure's target; undefined if none. */
function meets(figure: Figure, value: number, ratio: number | undefined): boolean | undefined {
  if (figure.target?.max !== undefined) return value <= figure.target.max;
  if (figure.target?.ratio !== undefined && ratio !== undefined) {
    return ratio >= figure.target.ratio;
  }
  return undefined;
}

/**
 * The comparison table: one row per figure, one column per server (median of the runs), the
 * ratio to distribution's median next to each value, and the target.
 */
export function comparisonTable(data: ReportData, figures: readonly Figure[]): string {
  const cols = data.servers;
  const head = `| figure | unit | ${cols.join(" | ")} | target |`;
  const rule = `|---|---|${cols.map(() => "---:").join("|")}|---|`;
  const rows = [head, rule];
  const footnotes: string[] = [];
  for (const figure of figures) {
    const perServer = data.values[figure.id] ?? {};
    const base = median(perServer.distribution ?? []);
    const cells = cols.map((server) => {
      const vals = perServer[server] ?? [];
      const errs = data.failures[figure.id]?.[server] ?? [];
      if (vals.length === 0) {
        if (errs.length === 0) return "—";
        footnotes.push(`${figure.id} / ${server}: ${errs[0]}`);
        return `error[${footnotes.length}]`;
      }
      const value = median(vals);
      let cell = fmt(value, figure.digits);
      let ratio: number | undefined;
      if (server !== "distribution" && Number.isFinite(base) && base > 0 && figure.unit !== "") {
        ratio = value / base;
        cell += ` (${ratio.toFixed(2)}×)`;
      }
      const ok = server === "distribution" && figure.target?.ratio !== undefined
        ? undefined
        : meets(figure, value, ratio);
      if (ok !== undefined) cell += ok ? " ✓" : " ✗";
      if (errs.length > 0) {
        footnotes.push(`${figure.id} / ${server}: ${errs.length} failed run(s): ${errs[0]}`);
        cell += `[${footnotes.length}]`;
      }
      return cell;
    });
    const arrow = figure.unit === "" ? "" : figure.better === "higher" ? " ↑" : " ↓";
    rows.push(
      `| ${label(figure, data.settings)} | ${figure.unit}${arrow} | ${cells.join(" | ")} | ${
        targetText(figure)
      } |`,
    );
  }
  let out = rows.join("\n") + "\n";
  if (footnotes.length > 0) {
    out += "\n" + footnotes.map((f, i) => `[${i + 1}] ${f}`).join("\n") + "\n";
  }
  return out;
}

/** The per-run values of every figure, for judging the noise. */
export function runsTable(data: ReportData, figures: readonly Figure[]): string {
  const rows = [
    `| figure | ${data.servers.join(" | ")} |`,
    `|---|${data.servers.map(() => "---").join("|")}|`,
  ];
  for (const figure of figures) {
    const cells = data.servers.map((s) =>
      (data.values[figure.id]?.[s] ?? []).map((v) => fmt(v, figure.digits)).join(", ") || "—"
    );
    rows.push(`| ${figure.id} (${figure.unit || "count"}) | ${cells.join(" | ")} |`);
  }
  return rows.join("\n") + "\n";
}

/** The microbenchmarks: one row per benchmark, one column per runtime. */
export function microTable(micro: readonly MicroResult[]): string {
  if (micro.length === 0) return "";
  const names: string[] = [];
  for (const m of micro) for (const r of m.results) if (!names.includes(r.name)) names.push(r.name);
  const rows = [
    `| benchmark | ${micro.map((m) => m.runtime).join(" | ")} |`,
    `|---|${micro.map(() => "---:").join("|")}|`,
  ];
  for (const name of names) {
    const cells = micro.map((m) => {
      const r = m.results.find((x) => x.name === name);
      if (!r) return "—";
      if (r.error) return `error: ${r.error.slice(0, 60)}`;
      if (r.mbPerS !== undefined) return `${fmt(r.mbPerS, 0)} MiB/s`;
      const ns = r.avgNs ?? NaN;
      return ns >= 1000 ? `${fmt(ns / 1000, 2)} µs` : `${fmt(ns, 0)} ns`;
    });
    rows.push(`| ${name} | ${cells.join(" | ")} |`);
  }
  return rows.join("\n") + "\n";
}

/** The whole report as Markdown. */
export function renderReport(data: ReportData, figures: readonly Figure[]): string {
  const m = data.machine;
  const s = data.settings;
  const parts = [
    "# fetch-registry vs CNCF distribution",
    "",
    `Measured ${m.date} with \`${data.command}\`: median of ${s.runs} run(s) per figure; ratios are to ` +
    "distribution's median in the same run (↑ higher is better, ↓ lower is better; ✓/✗ against the targets of issue 4).",
    "",
    data.servers.length > 0 ? comparisonTable(data, figures) : "(no server measured)\n",
  ];
  const skipped = Object.entries(data.skipped);
  if (skipped.length > 0) {
    parts.push("Not measured:", "", ...skipped.map(([id, why]) => `- ${id}: ${why}`), "");
  }
  parts.push(
    "## Machine",
    "",
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB; ${m.kernel}`,
    `- load average (1/5/15 min) at start: ${m.loadAverage}; at end: ${data.loadAverageEnd}`,
    ...Object.entries(m.versions).map(([k, v]) => `- ${k}: ${v}`),
    `- servers ${
      s.pinned
        ? "pinned to CPU 0, load generators to CPU 1"
        : "not pinned (all processes share every core)"
    }`,
    "",
    "## Method",
    "",
    `- Each server runs with filesystem storage in its own temporary directory on 127.0.0.1: distribution ` +
      "(`docker-registry serve`, log level warn, in-memory blob descriptor cache) and " +
      "`lib/cli/main.ts --storage fs:DIR` on Node (built to one ESM file with esbuild, as for npm, run by node), " +
      "Deno (deno run -A --v8-flags=--expose-gc,--max-semi-space-size=1) and Bun (bun lib/cli/main.ts). Both keep " +
      "their default access log (one line per request), written to a file.",
    "- Uploads come from bench/client.ts, a separate Node process writing a pre-generated, pre-digested " +
      `random payload with node:http (keep-alive); chunked pushes send ${
        size(s.chunk)
      } PATCHes with Content-Range, ` +
      "the streamed push one PATCH with Transfer-Encoding: chunked; each push ends with PUT ?digest=. " +
      `Before the first round every server gets one unmeasured ${
        size(WARM_UP_SIZE)
      } push in each mode (JIT warm-up).`,
    "- Downloads and ranged GETs use curl (-o /dev/null; ranged: one connection, 3 warm-up requests, " +
      `median of ${s.rangeCount}).`,
    `- Manifest load: ${s.connections} connections, 1 s warm-up then ${s.seconds} s; GET with wrk (1 thread), HEAD with ` +
      "bench/load.ts (wrk and autocannon wait for a body after a HEAD answer with Content-Length and stall).",
    '- Tags list: follows `Link: <…>; rel="next"` from `?n=100` until there is none and checks that every tag came back exactly once.',
    `- The ${
      size(s.big)
    } push and pull run on a freshly started server each run (its idle RSS is the row ` +
      "before them), so memory kept by earlier steps does not count.",
    "- Server CPU: utime+stime of the server's process tree from /proc/<pid>/stat around the transfer; " +
      "peak RSS: VmHWM reset through /proc/<pid>/clear_refs before the transfer, cross-checked by sampling VmRSS every 10 ms.",
    ...data.notes.map((n) => `- ${n}`),
    "",
  );
  if (data.servers.length > 0) parts.push("## Per-run values", "", runsTable(data, figures));
  if (data.micro.length > 0) {
    parts.push("## Microbenchmarks (mitata, bench/micro.ts)", "", microTable(data.micro));
  }
  return parts.join("\n");
}
