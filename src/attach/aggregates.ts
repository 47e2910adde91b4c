/**
 * The attacher's aggregation reports (native/PROTOCOL.md, "Aggregations")
 * → {@link AggregateSnapshot}s.
 *
 * A report is a run of `aggregate` statuses, one per (entry, aggregation)
 * with rows or dropped hits, closed by `aggregatesDone`. {@link
 * AggregateDecoder.take} checks each status as it comes (a malformed one is
 * a protocol error naming the member) and hands back the whole report at
 * `aggregatesDone`; {@link AggregateDecoder.resolve} then names its keys
 * (a `container` key's mount namespace → the container, a `ustack` key's
 * addresses → frames, which is asynchronous) and merges the entries of
 * each probe.
 */
import type { AttachPlan, PlanAggregate, PlanContainer, PlanExpr, PlanProbe } from "../plan/index.js";
import type { AggregateKeyValue, AggregateResult, AggregateSnapshot, StackKey } from "./aggregate-types.js";
import { RowAccumulator } from "./aggregate-rows.js";
import { exprText } from "./expr-text.js";
import { protocolError, type AttachStatus } from "./status.js";

/** A key as the attacher reports it, before naming. */
type RawKey = bigint | string | { readonly mntns: bigint } | { readonly pid: number; readonly addresses: readonly bigint[] } | null;

interface RawRow {
  readonly keys: readonly RawKey[];
  readonly bucket: number | undefined;
  readonly count: bigint;
  readonly sum: bigint;
  readonly min: bigint;
  readonly max: bigint;
}

/** One `aggregate` status, checked. */
interface RawPart {
  readonly entry: number;
  readonly aggregate: number;
  readonly dropped: bigint;
  readonly rows: readonly RawRow[];
}

/** One whole report, as the attacher sent it. */
export interface RawReport {
  readonly seq: number;
  readonly final: boolean;
  readonly reset: boolean;
  readonly parts: readonly RawPart[];
}

/** How a `by` key is reported. */
type KeyKind = "int" | "string" | "container" | "stack";

/** What decoding needs of one entry. */
interface EntryAggregates {
  readonly probe: PlanProbe;
  readonly keyKinds: readonly (readonly KeyKind[])[];
  /** A `container` key's mount namespace → the container's name (else its id); containers joined with `filter` are added. */
  readonly containers: Map<bigint, string>;
  /** The entry's own container (name, else id), or null outside containers. */
  readonly container: string | null;
}

/** Names a stack of process `pid`. */
export type NameStack = (pid: number, addresses: readonly bigint[]) => Promise<StackKey>;

/** Decodes the reports of one plan (and of entries added while it runs). */
export class AggregateDecoder {
  private readonly entries: (EntryAggregates | undefined)[];
  /** The report being received. */
  private pending: { seq: number; parts: RawPart[] } | undefined;

  constructor(plan: AttachPlan) {
    this.entries = plan.probes.map(entryAggregates);
  }

  /** An entry added while running: its reports decode with `probe` from now on. */
  setEntry(index: number, probe: PlanProbe): void {
    this.entries[index] = entryAggregates(probe);
  }

  /**
   * Names the container whose mount namespace is `mntNs` in `container`
   * keys of entry `index`: the helper's `filter` command added it to the
   * entry (src/follow/). Kept after it leaves: the kernel keeps its rows.
   */
  setContainer(index: number, mntNs: number, container: PlanContainer): void {
    this.entries[index]?.containers.set(BigInt(mntNs), container.containerName ?? container.containerId);
  }

  /** True when some entry aggregates. */
  get any(): boolean {
    return this.entries.some((e) => e !== undefined && e.keyKinds.length > 0);
  }

  /**
   * Takes one `aggregate` or `aggregatesDone` status; returns the whole
   * report at `aggregatesDone`, else undefined. Throws an `AttachError`
   * naming what does not fit the plan or the contract.
   */
  take(status: AttachStatus): RawReport | undefined {
    const seq = status.seq;
    if (!isCount(seq) || seq === 0) throw protocolError(`a ${status.type} status has no valid seq: ${preview(status)}`);
    if (this.pending !== undefined && this.pending.seq !== seq)
      throw protocolError(`report ${seq} began before report ${this.pending.seq} was done (its aggregatesDone never came)`);
    if (status.type === "aggregatesDone") {
      const parts = this.pending?.parts ?? [];
      this.pending = undefined;
      return { seq, final: status.final === true, reset: status.reset === true, parts };
    }
    this.pending ??= { seq, parts: [] };
    this.pending.parts.push(this.part(status));
    return undefined;
  }

  private part(status: AttachStatus): RawPart {
    const entry = status.entry;
    const decoder = isCount(entry) ? this.entries[entry] : undefined;
    if (decoder === undefined) throw protocolError(`an aggregate status names entry ${JSON.stringify(entry)}, which the plan does not have`);
    const index = status.aggregate;
    const kinds = isCount(index) ? decoder.keyKinds[index] : undefined;
    const aggregate = isCount(index) ? decoder.probe.program?.aggregates[index] : undefined;
    if (kinds === undefined || aggregate === undefined)
      throw protocolError(`an aggregate status names aggregation ${JSON.stringify(index)} of entry ${entry}, which has ${decoder.keyKinds.length}`);
    const where = `aggregate ${index} of entry ${entry} (${aggregate.text})`;
    const dropped = decimal(status.dropped, `${where}: dropped`);
    if (!Array.isArray(status.rows)) throw protocolError(`${where}: rows is not an array`);
    const histogram = aggregate.fn === "hist" || aggregate.fn === "lhist";
    const rows = status.rows.map((r: unknown, i): RawRow => {
      const at = `${where}: rows[${i}]`;
      if (typeof r !== "object" || r === null) throw protocolError(`${at} is not an object`);
      const row = r as Record<string, unknown>;
      if (!Array.isArray(row.keys) || row.keys.length !== kinds.length)
        throw protocolError(`${at}: keys should be an array of ${kinds.length} (one per by expression): ${preview(row.keys)}`);
      const keys = row.keys.map((k: unknown, j) => rawKey(k, kinds[j] as KeyKind, `${at}.keys[${j}]`));
      const bucket = row.bucket;
      if (histogram && !isCount(bucket)) throw protocolError(`${at}: a ${aggregate.fn} row needs a bucket index, got ${preview(bucket)}`);
      return {
        keys,
        bucket: histogram ? (bucket as number) : undefined,
        count: decimal(row.count, `${at}.count`),
        sum: decimal(row.sum, `${at}.sum`),
        min: decimal(row.min, `${at}.min`),
        max: decimal(row.max, `${at}.max`),
      };
    });
    return { entry: entry as number, aggregate: index as number, dropped, rows };
  }

  /** A report with its keys named and each probe's entries merged. */
  async resolve(report: RawReport, nameStack: NameStack): Promise<AggregateSnapshot> {
    // Each distinct stack is named once per report.
    const named = new Map<string, Promise<StackKey>>();
    const name = (pid: number, addresses: readonly bigint[]): Promise<StackKey> => {
      const id = `${pid}:${addresses.join(",")}`;
      let key = named.get(id);
      if (key === undefined) {
        key = nameStack(pid, addresses);
        named.set(id, key);
      }
      return key;
    };
    const groups = new Map<string, { order: number; probeId: string; index: number; aggregate: PlanAggregate; parts: RawPart[] }>();
    for (const part of report.parts) {
      const entry = this.entries[part.entry] as EntryAggregates;
      const id = `${entry.probe.id}\0${part.aggregate}`;
      let group = groups.get(id);
      if (group === undefined) {
        const aggregate = entry.probe.program?.aggregates[part.aggregate] as PlanAggregate;
        group = { order: this.probeOrder(entry.probe.id), probeId: entry.probe.id, index: part.aggregate, aggregate, parts: [] };
        groups.set(id, group);
      }
      group.parts.push(part);
    }
    const results: AggregateResult[] = [];
    for (const group of [...groups.values()].sort((a, b) => a.order - b.order || a.index - b.index)) {
      const { aggregate } = group;
      const rows = new RowAccumulator(aggregate.fn, aggregate.lhist);
      let dropped = 0n;
      for (const part of group.parts) {
        dropped += part.dropped;
        const entry = this.entries[part.entry] as EntryAggregates;
        for (const row of part.rows) {
          const keys = await Promise.all(row.keys.map((k) => nameKey(k, entry, name)));
          rows.add(keys, { ...row, ...(row.bucket === undefined ? {} : { buckets: [[row.bucket, row.count] as const] }) });
        }
      }
      results.push({
        probeId: group.probeId,
        index: group.index,
        fn: aggregate.fn,
        text: aggregate.text,
        keyNames: aggregate.by.map(exprText),
        lhist: aggregate.lhist,
        unit: valueUnit(aggregate.value),
        rows: rows.rows(),
        dropped,
      });
    }
    return { seq: report.seq, final: report.final, reset: report.reset, results };
  }

  /** Where a probe comes in plan order: its first entry's index. */
  private probeOrder(probeId: string): number {
    return this.entries.findIndex((e) => e?.probe.id === probeId);
  }
}

/**
 * The unit of an aggregated value: nanoseconds for the `latency` capture
 * (the return side of `uprobe+ret`), also through a cast; else none.
 */
export function valueUnit(value: PlanExpr | null): "ns" | null {
  let e = value;
  while (e?.op === "cast") e = e.expr;
  return e?.op === "capture" && e.name === "latency" ? "ns" : null;
}

function entryAggregates(probe: PlanProbe): EntryAggregates {
  const target = probe.target;
  const containers = new Map<bigint, string>();
  for (const c of target.containers ?? []) containers.set(BigInt(c.mntNs), c.containerName ?? c.containerId);
  const container = target.containerId === null ? null : (target.containerName ?? target.containerId);
  if (container !== null && !containers.has(BigInt(target.mntNs))) containers.set(BigInt(target.mntNs), container);
  return { probe, keyKinds: (probe.program?.aggregates ?? []).map((a) => a.by.map(keyKind)), containers, container };
}

function keyKind(e: PlanExpr): KeyKind {
  if (e.op === "ustack") return "stack";
  if (e.op === "capture" && e.name === "container") return "container";
  if (e.op === "str" || e.op === "gostr" || (e.op === "capture" && e.name === "comm")) return "string";
  return "int";
}

function rawKey(value: unknown, kind: KeyKind, at: string): RawKey {
  if (value === null) return null;
  switch (kind) {
    case "int":
      return decimal(value, at);
    case "string":
      if (typeof value !== "string") throw protocolError(`${at}: expected a string key, got ${preview(value)}`);
      return value;
    case "container": {
      const mntns = (value as { mntns?: unknown }).mntns;
      if (typeof value !== "object" || mntns === undefined) throw protocolError(`${at}: expected a container key {"mntns":"…"}, got ${preview(value)}`);
      return { mntns: decimal(mntns, `${at}.mntns`) };
    }
    case "stack": {
      const { pid, frames } = value as { pid?: unknown; frames?: unknown };
      if (!isCount(pid) || !Array.isArray(frames)) throw protocolError(`${at}: expected a stack key {"pid":N,"frames":["0x…"]}, got ${preview(value)}`);
      const addresses = frames.map((f: unknown, i) => {
        if (typeof f !== "string" || !/^0x[0-9a-fA-F]{1,16}$/.test(f)) throw protocolError(`${at}.frames[${i}]: expected "0x…", got ${preview(f)}`);
        return BigInt(f);
      });
      return { pid, addresses };
    }
  }
}

async function nameKey(key: RawKey, entry: EntryAggregates, name: NameStack): Promise<AggregateKeyValue> {
  if (key === null || typeof key === "bigint" || typeof key === "string") return key;
  if ("mntns" in key) {
    // Outside containers there is none to name; a namespace the plan does not know (a process that entered another) keeps its inode.
    if (entry.container === null) return null;
    return entry.containers.get(key.mntns) ?? `mntns:${key.mntns}`;
  }
  return name(key.pid, key.addresses);
}

/** A 64-bit integer written as a decimal string (the contract's only way to write one). */
function decimal(value: unknown, at: string): bigint {
  if (typeof value !== "string" || !/^-?[0-9]{1,20}$/.test(value)) throw protocolError(`${at}: expected a decimal string, got ${preview(value)}`);
  return BigInt(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
