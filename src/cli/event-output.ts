/**
 * How `probec run` and `probec trace` print events, one at a time, as they
 * arrive: an aligned table, `--json` lines, or a probe's `format` string.
 *
 * A streamed table cannot know its widest cell in advance: each column
 * starts at a width that fits common values and only ever grows, so rows
 * stay aligned unless a value is wider than any before it.
 */
import type { AttachPlan, FieldValue, PlanField, PlanProbe, ProbeEvent, StackKey } from "../index.js";
import { type CaptureName, isCaptureName } from "./internal.js";

/** Writes events as they come. */
export interface EventPrinter {
  /** The text for one event (with its newline), or "" when nothing is printed for it. */
  print(event: ProbeEvent): string;
}

/** A value as JSON: a bigint as a number when it is exact, else as a decimal string. */
export function jsonValue(value: bigint | string | number | null): string | number | null {
  if (typeof value !== "bigint") return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** A field as JSON: a stack as `{"pid","frames","addresses"}` (addresses as `0x…` strings), anything else as {@link jsonValue}. */
export function fieldJson(value: FieldValue): unknown {
  if (!isStackValue(value)) return jsonValue(value);
  return { pid: value.pid, frames: value.frames, addresses: value.addresses.map((a) => `0x${a.toString(16)}`) };
}

/** True for a `ustack` field's value. */
export function isStackValue(value: FieldValue | undefined): value is StackKey {
  return typeof value === "object" && value !== null;
}

/** A stack's frames, one a line, indented under the line it belongs to. */
export function stackText(stack: StackKey): string {
  return stack.frames.length === 0 ? "    (no frames)\n" : stack.frames.map((f) => `    ${f}\n`).join("");
}

/** A value in a table or a format: decimal integers, strings with control characters escaped, `(fault)` for a read that faulted. */
export function textValue(value: bigint | string | number | null): string {
  if (value === null) return "(fault)";
  if (typeof value !== "string") return value.toString();
  // One event is one line: a newline or escape sequence read from the target must not break it.
  return /[\u0000-\u001f\u007f]/.test(value) ? JSON.stringify(value).slice(1, -1) : value;
}

/**
 * Where each capture (src/plan/captures.ts) goes in a `--json` line, or
 * null when the line leaves it out (`cpu` never was in it). A `Record` over
 * every capture name: a new capture fails to compile here until it has a
 * place.
 */
const JSON_POSITION: Readonly<Record<CaptureName, number | null>> = {
  pid: 0,
  tid: 1,
  comm: 2,
  container: 3,
  timestamp: 4,
  latency: 5,
  retval: 6,
  cpu: null,
};
const JSON_CAPTURES = (Object.keys(JSON_POSITION) as CaptureName[])
  .filter((name) => JSON_POSITION[name] !== null)
  .sort((a, b) => (JSON_POSITION[a] ?? 0) - (JSON_POSITION[b] ?? 0));

/**
 * `--json`: one object per event: probe, pid, tid, comm, container (and, in
 * a container, containerId; for a pod's, namespace and pod), timestamp,
 * latency, retval, then the fields.
 */
export class JsonPrinter implements EventPrinter {
  print(e: ProbeEvent): string {
    const out: Record<string, unknown> = { probe: e.probeId };
    for (const name of JSON_CAPTURES) {
      out[name] = jsonValue(e[name]);
      // Which container, when there is one (issue 14: a selector scope spans several): its id, and a pod's namespace and pod.
      if (name === "container" && e.containerId !== undefined) out["containerId"] = e.containerId;
      if (name === "container" && e.pod !== undefined) Object.assign(out, { namespace: e.pod.namespace, pod: e.pod.name });
    }
    for (const [name, value] of Object.entries(e.fields)) out[name] = fieldJson(value);
    return `${JSON.stringify(out)}\n`;
  }
}

/**
 * The default output: per event a table row (TIME since start in seconds,
 * PROBE, PID, COMM, then the fields), or the probe's `format` rendered.
 * When every printing probe has the same fields they get a column each;
 * otherwise one FIELDS column holds `name=value` pairs. When some probes
 * have a `format` and others do not, the formatted text goes in the FIELDS
 * column, so that one stream stays one aligned table.
 */
export class TablePrinter implements EventPrinter {
  private readonly formats = new Map<string, FormatTemplate>();
  private readonly fieldNames: readonly string[] | undefined;
  private readonly columns: { header: string; right: boolean; width: number }[];
  private headerPrinted = false;
  /** Formatted and tabular probes print in one table. */
  private readonly mixed: boolean;
  /** A CONTAINER column after COMM when the plan's entries span several containers (a selector scope, issue 14). */
  private readonly containerColumn: boolean;

  constructor(
    plan: AttachPlan,
    private readonly startNs: bigint,
  ) {
    const printing = plan.probes.filter((p) => (p.program?.aggregates.length ?? 0) === 0);
    for (const p of printing) if (typeof p.program?.format === "string") this.formats.set(p.id, compileFormat(p.program.format));
    const tabular = printing.filter((p) => !this.formats.has(p.id));
    this.mixed = this.formats.size > 0 && tabular.length > 0;
    const names = tabular.map((p) => (p.program?.fields ?? []).map((f) => f.name).join("\0"));
    this.fieldNames = !this.mixed && names.every((n) => n === names[0]) ? fieldsOf(tabular[0]) : undefined;
    const idWidth = Math.max(5, ...plan.probes.map((p) => p.id.length));
    // `target?.`: a plan made by another tool (or a test) may leave the provenance out.
    const targets = plan.probes.map((p) => p.target as PlanProbe["target"] | undefined);
    this.containerColumn = new Set(targets.map((t) => t?.containerId ?? null)).size > 1 || targets.some((t) => t?.containers !== undefined);
    this.columns = [
      { header: "TIME", right: true, width: 10 },
      { header: "PROBE", right: false, width: idWidth },
      { header: "PID", right: true, width: 7 },
      { header: "COMM", right: false, width: 15 },
      ...(this.containerColumn ? [{ header: "CONTAINER", right: false, width: 9 }] : []),
      ...(this.fieldNames === undefined
        ? [{ header: "FIELDS", right: false, width: 6 }]
        : this.fieldNames.map((name, i) => {
            const field = tabular[0]?.program?.fields[i];
            return { header: name.toUpperCase(), right: field?.type === "int", width: Math.max(name.length, startWidth(field)) };
          })),
    ];
  }

  print(e: ProbeEvent): string {
    // A `ustack` field's cell says how many frames; the frames follow the row, one a line.
    const stacks = Object.values(e.fields).filter(isStackValue);
    const below = stacks.map(stackText).join("");
    const template = this.formats.get(e.probeId);
    if (template !== undefined && !this.mixed) return `${template(e)}\n${below}`;
    const seconds = Number(e.timestamp - this.startNs) / 1e9;
    const cells = [
      seconds.toFixed(6),
      e.probeId,
      String(e.pid),
      e.comm,
      ...(this.containerColumn ? [e.container ?? "-"] : []),
      ...(template !== undefined
        ? [template(e)]
        : this.fieldNames === undefined
          ? [
              Object.entries(e.fields)
                .map(([name, value]) => `${name}=${cellText(value)}`)
                .join(" "),
            ]
          : this.fieldNames.map((name) => cellText(e.fields[name] ?? null))),
    ];
    let out = "";
    if (!this.headerPrinted) {
      this.headerPrinted = true;
      out += this.row(this.columns.map((c) => c.header));
    }
    return out + this.row(cells) + below;
  }

  private row(cells: readonly string[]): string {
    const last = cells.length - 1;
    const text = cells
      .map((cell, i) => {
        const column = this.columns[i] as { right: boolean; width: number };
        column.width = Math.max(column.width, cell.length);
        if (column.right) return cell.padStart(column.width);
        return i === last ? cell : cell.padEnd(column.width);
      })
      .join("  ");
    return `${text.trimEnd()}\n`;
  }
}

/** A field in a table cell: a stack as its frame count (its frames are printed under the row). */
function cellText(value: FieldValue): string {
  if (isStackValue(value)) return `[${value.frames.length} frame${value.frames.length === 1 ? "" : "s"}]`;
  return textValue(value);
}

/** A column's first width: room for most integers (latencies in ns), or for a string up to its length, capped. */
function startWidth(field: PlanField | undefined): number {
  if (field === undefined) return 1;
  if (field.type === "int") return 8;
  return Math.min(field.expr.op === "str" || field.expr.op === "gostr" ? field.expr.maxLen : 16, 24);
}

function fieldsOf(probe: PlanProbe | undefined): string[] {
  return (probe?.program?.fields ?? []).map((f) => f.name);
}

/** A compiled `format` string. */
type FormatTemplate = (event: ProbeEvent) => string;

/**
 * `{name}` is a field (or, for a plan written by another tool, a capture of
 * the event: pid, tid, cpu, comm, container, timestamp, latency, retval,
 * probe); `{{` and `}}` are literal braces — the syntax the DSL checks
 * (src/dsl/semantic.ts, formatReferences). An unknown name stays as written.
 */
export function compileFormat(format: string): FormatTemplate {
  const parts: (string | { name: string; written: string })[] = [];
  const re = /\{\{|\}\}|\{([^{}]*)\}/g;
  let last = 0;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    parts.push(format.slice(last, m.index));
    if (m[1] === undefined) parts.push(m[0] === "{{" ? "{" : "}");
    else parts.push({ name: m[1].trim(), written: m[0] });
    last = m.index + m[0].length;
  }
  parts.push(format.slice(last));
  return (event) => {
    let out = "";
    for (const part of parts) out += typeof part === "string" ? part : (referenceValue(event, part.name) ?? part.written);
    return out;
  };
}

/** A `{name}` reference: a field, `probe`, or any capture (`-` for one the event has no value of); a stack is printed under the line. */
function referenceValue(e: ProbeEvent, name: string): string | undefined {
  if (Object.hasOwn(e.fields, name)) return cellText(e.fields[name] ?? null);
  if (name === "probe") return e.probeId;
  if (!isCaptureName(name)) return undefined;
  const value = e[name];
  return value === null ? "-" : textValue(value);
}
