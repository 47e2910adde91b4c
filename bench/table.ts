/**
 * Printing: one aligned table per task, probec's rows beside its peers',
 * then the task's targets with MET or MISSED. Everything goes through
 * `print`, so the output is plain text that pastes into an issue.
 */
import { medianOf, quantile, type Sample } from "./measure.js";

/** One tool's runs in a task's table. */
export interface Row {
  /** The tool and what it ran (`readelf -n`, `probec findUsdt`). */
  readonly tool: string;
  /** `in process` (timed around a call), `fresh process` (one call in a new Node), `whole process` (a peer, start to exit). */
  readonly scope: "in process" | "fresh process" | "whole process";
  readonly samples: readonly Sample[];
  /** How bytes read were counted: `bytesRead` (probec's source), `rchar` (/proc io), or `n/a`. */
  readonly bytesHow: string;
  /** The answer the tool gave, to show that every tool did the same work (`531 sites`). */
  readonly answer?: string;
  /** Why the row is skipped or partial; printed under the table. */
  readonly note?: string;
}

/** A target from the issue and the figure it is judged on. */
export interface Target {
  readonly what: string;
  /** The measured value (undefined: not measured, counted as missed). */
  readonly value: number | undefined;
  readonly limit: number;
  /** `×`: a ratio to a peer measured in the same run. */
  readonly unit: "ms" | "bytes" | "×";
}

const HEADERS = ["tool", "scope", "runs", "min", "median", "p90", "peak RSS Δ", "bytes read", "answer"];

/** Milliseconds with precision that suits the size: `0.412 ms`, `21.3 ms`, `1.84 s`. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 1 ? 3 : ms < 100 ? 2 : 0)} ms`;
}

/** Bytes in binary units: `192.1 KiB`, `12.3 MiB`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return "—";
  const sign = bytes < 0 ? "-" : "";
  const b = Math.abs(bytes);
  if (b < 1024) return `${sign}${b} B`;
  if (b < 1 << 20) return `${sign}${(b / 1024).toFixed(1)} KiB`;
  if (b < 1 << 30) return `${sign}${(b / (1 << 20)).toFixed(1)} MiB`;
  return `${sign}${(b / (1 << 30)).toFixed(2)} GiB`;
}

function cells(row: Row): string[] {
  const ms = row.samples.map((s) => s.ms).filter((v) => Number.isFinite(v));
  const bytes = medianOf(row.samples.map((s) => s.bytesRead));
  return [
    row.tool,
    row.scope,
    String(ms.length),
    row.samples.length === 0 ? "skipped" : formatMs(quantile(ms, 0)),
    row.samples.length === 0 ? "" : formatMs(quantile(ms, 0.5)),
    row.samples.length < 2 ? "" : formatMs(quantile(ms, 0.9)),
    formatBytes(medianOf(row.samples.map((s) => s.peakRssGrowth))),
    bytes === undefined ? (row.bytesHow === "n/a" ? "n/a" : "—") : `${formatBytes(bytes)} (${row.bytesHow})`,
    row.answer ?? "",
  ];
}

/** Prints a task's title, its table, the rows' notes and its targets. */
export function printTask(print: (line: string) => void, title: string, rows: readonly Row[], targets: readonly Target[]): void {
  const table = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
  // Text columns left-aligned, figures right-aligned.
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i < 2 || i === 8 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  print("");
  print(title);
  print("=".repeat(title.length));
  print(line(HEADERS));
  print(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of table.slice(1)) print(line(r));
  for (const r of rows) if (r.note !== undefined) print(`  * ${r.tool}: ${r.note}`);
  for (const t of targets) {
    const format = (v: number | undefined): string =>
      t.unit === "ms" ? formatMs(v) : t.unit === "×" ? (v === undefined ? "—" : `${v.toFixed(2)}×`) : formatBytes(v);
    const shown = format(t.value);
    const limit = format(t.limit);
    const met = t.value !== undefined && t.value <= t.limit;
    const factor = t.value !== undefined && !met ? ` (${(t.value / t.limit).toFixed(1)}× over)` : "";
    print(`  target: ${t.what} ≤ ${limit}: ${shown} → ${met ? "MET" : "MISSED"}${factor}`);
  }
}
