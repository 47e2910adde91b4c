/**
 * Event frames → typed {@link ProbeEvent}s.
 *
 * An event is `struct probec_event_header` (native/include/probec_abi.h)
 * followed by the entry's slots. Slot offsets and sizes come only from the
 * entry's `layout` status, never from constants here: the attacher owns the
 * layout, and a change there must not silently shift fields here. The
 * header itself is fixed by the ABI and read at its documented offsets.
 *
 * Values are in host byte order; the hosts probec attaches on (x86-64,
 * aarch64) are little-endian, which is what the reads below assume.
 */
import type { AttachPlan, CaptureName, HeaderCaptureName, PlanContainer, PlanExpr, PlanProbe } from "../plan/index.js";
import type { StackKey } from "./aggregate-types.js";
import type { LayoutField, LayoutStatus } from "./status.js";
import { protocolError } from "./status.js";

/** One event of one probe. */
export interface ProbeEvent {
  /** The probe's id (`PlanProbe.id`). */
  probeId: string;
  /** Index of the entry in `plan.probes`. */
  entry: number;
  /** The cookie of the point that fired. */
  cookie: number;
  /** Which side of the function fired. */
  side: "entry" | "return";
  /** Process id in the initial pid namespace (what `pid/N` and `ps` on the host show). */
  pid: number;
  /** Thread id in the initial pid namespace. */
  tid: number;
  /** CPU the event fired on. */
  cpu: number;
  /** The thread's command name. */
  comm: string;
  /** The entry's container (its name, else its id), or null outside containers. */
  container: string | null;
  /** The entry's full container id; absent outside containers (issue 14). */
  containerId?: string;
  /** For a pod's container (a `k8s/…` selector scope): its pod namespace, pod and name in the pod; absent otherwise. */
  pod?: { readonly namespace: string; readonly name: string; readonly container: string };
  /** When it fired: CLOCK_MONOTONIC nanoseconds (`process.hrtime.bigint()` reads the same clock). */
  timestamp: bigint;
  /** Nanoseconds since the paired entry: the return side of `uprobe+ret` only, else null. */
  latency: bigint | null;
  /** The return register: return side only, else null. */
  retval: bigint | null;
  /**
   * The program's fields by name, in program order; null when reading the
   * field faulted in the target. A `ustack` field is a {@link StackKey},
   * named from the process's files by the time the event is handed out.
   */
  fields: Record<string, FieldValue>;
}

/** One field's value: an integer, a string, a user stack, or null when reading it faulted in the target. */
export type FieldValue = bigint | string | StackKey | null;

/**
 * The captures of an event by name. Every capture (src/plan/captures.ts) is
 * a field of {@link ProbeEvent} under its own name: `Pick` fails to compile
 * here when a new capture has no field yet.
 */
export type ProbeEventCaptures = Pick<ProbeEvent, CaptureName>;

/** Bytes of `struct probec_event_header` (probec_abi.h: "sizeof(struct probec_event_header) == 72"). */
export const EVENT_HEADER_BYTES = 72;

// Offsets in struct probec_event_header (probec_abi.h).
const H_COOKIE = 0;
const H_TIMESTAMP = 8;
const H_LATENCY = 16;
const H_RETVAL = 24;
const H_PID = 32;
const H_TID = 36;
const H_CPU = 40;
const H_FAULT_MASK = 44;
const H_MNTNS = 48;
const H_COMM = 56;
const COMM_BYTES = 16;

/** How to read one layout field out of an event. */
type FieldReader = (event: Buffer, faultMask: number, comm: string) => FieldValue;

/** What decoding needs per entry: fixed from the plan, plus the readers built from its layout. */
interface EntryDecoder {
  readonly probe: PlanProbe;
  readonly container: string | null;
  /** An entry that serves several containers (`target.containers`, issue 14): each by the mount namespace an event carries. */
  readonly byMntns: Map<bigint, EventContainer> | undefined;
  readonly pairedReturn: boolean;
  layout?: {
    readonly eventSize: number;
    readonly names: readonly string[];
    readonly readers: readonly FieldReader[];
    /** The `ustack` fields, which the attachment names before handing the event out. */
    readonly stacks: readonly string[];
  };
}

/** Who an event came from, for an entry that serves several containers. */
interface EventContainer {
  readonly container: string;
  readonly containerId: string;
  readonly pod: ProbeEvent["pod"];
}

/** What decoding needs of an entry from the plan alone. */
function entryDecoder(probe: PlanProbe): EntryDecoder {
  const many = probe.target.containers;
  return {
    probe,
    container: probe.target.containerId === null ? null : (probe.target.containerName ?? probe.target.containerId),
    byMntns:
      many === undefined
        ? undefined
        : new Map(many.map((c) => [BigInt(c.mntNs), { container: c.containerName ?? c.containerId, containerId: c.containerId, pod: c.pod }])),
    pairedReturn: probe.kind === "uprobe+ret",
  };
}

/** Decodes the events of one plan, given the layouts the helper reports. */
export class EventDecoder {
  private readonly entries: EntryDecoder[];
  private readonly points = new Map<number, { entry: number; side: "entry" | "return" }>();

  constructor(plan: AttachPlan) {
    this.entries = plan.probes.map(entryDecoder);
    plan.probes.forEach((probe, entry) => {
      // A uprobe on a return instruction (Go's return probes) fires on the return side, as a uretprobe does.
      for (const point of probe.points) this.points.set(point.cookie, { entry, side: point.side === "entry" ? "entry" : "return" });
    });
  }

  /**
   * An entry added while running (the helper's `add` command, src/follow/):
   * `probe` is entry `index` from now on, its cookies decode to it. Called
   * before the command is sent, since its `layout` comes before the reply.
   */
  setEntry(index: number, probe: PlanProbe): void {
    this.entries[index] = entryDecoder(probe);
    for (const point of probe.points) this.points.set(point.cookie, { entry: index, side: point.side === "entry" ? "entry" : "return" });
  }

  /** Forgets an entry the helper removed (after its `removed`: no event of it comes later). */
  dropEntry(index: number): void {
    const entry = this.entries[index];
    if (entry === undefined) return;
    for (const point of entry.probe.points) this.points.delete(point.cookie);
    delete this.entries[index];
  }

  /**
   * Names the container whose mount namespace is `mntNs` in the events of
   * entry `index`, or forgets it (`container` undefined): the helper's
   * `filter` command adds containers to an entry that was added with
   * `target.containers` (src/follow/). Called before the namespace is
   * added, so that its first event names it.
   */
  setContainer(index: number, mntNs: number, container: PlanContainer | undefined): void {
    const byMntns = this.entries[index]?.byMntns;
    if (byMntns === undefined) throw protocolError(`entry ${index} was not added with target.containers: its events name one container only`);
    if (container === undefined) byMntns.delete(BigInt(mntNs));
    else byMntns.set(BigInt(mntNs), { container: container.containerName ?? container.containerId, containerId: container.containerId, pod: container.pod });
  }

  /** Takes an entry's `layout` status; its events decode with it from now on. */
  setLayout(layout: LayoutStatus): void {
    const entry = this.entries[layout.entry];
    if (entry === undefined) throw protocolError(`a layout names entry ${layout.entry}, but the plan has ${this.entries.length} entries`);
    if (layout.eventSize < EVENT_HEADER_BYTES)
      throw protocolError(`layout of entry ${layout.entry}: eventSize ${layout.eventSize} is smaller than the ${EVENT_HEADER_BYTES}-byte event header`);
    const planExprs = fieldExprs(entry.probe);
    let slot = 0;
    const readers = layout.fields.map((field, i) => {
      const expr = planExprs.get(field.name) ?? positional(entry.probe, i);
      if (field.type === "header") return headerReader(field, expr, entry.container, entry.byMntns, layout.entry);
      if (field.offset < EVENT_HEADER_BYTES || field.offset + field.size > layout.eventSize) {
        throw protocolError(
          `layout of entry ${layout.entry}: field "${field.name}" (offset ${field.offset}, ${field.size} bytes) is outside the event's slots (${EVENT_HEADER_BYTES}..${layout.eventSize})`,
        );
      }
      const bit = slot++;
      if (field.type === "int") {
        if (field.size !== 8) throw protocolError(`layout of entry ${layout.entry}: integer field "${field.name}" has ${field.size} bytes, not 8`);
        return intReader(field.offset, bit, isUnsigned64(expr, entry.probe));
      }
      if (field.type === "stack") {
        if (field.size < 8 || field.size % 8 !== 0)
          throw protocolError(`layout of entry ${layout.entry}: stack field "${field.name}" has ${field.size} bytes, not 8 + 8 per frame`);
        return stackReader(field.offset, field.size, bit);
      }
      if (field.size === 0) throw protocolError(`layout of entry ${layout.entry}: string field "${field.name}" has no bytes`);
      return stringReader(field.offset, field.size, bit);
    });
    const stacks = layout.fields.filter((f) => f.type === "stack").map((f) => f.name);
    entry.layout = { eventSize: layout.eventSize, names: layout.fields.map((f) => f.name), readers, stacks };
  }

  /** The `ustack` fields of an entry's events (empty for most). */
  stackFields(entry: number): readonly string[] {
    return this.entries[entry]?.layout?.stacks ?? [];
  }

  /** Decodes one event frame's payload. Throws an `AttachError` when it does not fit the plan or its layout. */
  decode(payload: Buffer): ProbeEvent {
    if (payload.length < EVENT_HEADER_BYTES) throw protocolError(`an event of ${payload.length} bytes is shorter than the ${EVENT_HEADER_BYTES}-byte header`);
    const cookie = Number(payload.readBigUInt64LE(H_COOKIE));
    const point = this.points.get(cookie);
    if (point === undefined) throw protocolError(`an event has cookie ${cookie}, which no point of the plan has`);
    const entry = this.entries[point.entry] as EntryDecoder;
    const layout = entry.layout;
    if (layout === undefined) throw protocolError(`an event of entry ${point.entry} came before its layout`);
    if (payload.length < layout.eventSize)
      throw protocolError(`an event of entry ${point.entry} has ${payload.length} bytes; its layout says ${layout.eventSize}`);
    const comm = cString(payload, H_COMM, COMM_BYTES);
    const faultMask = payload.readUInt32LE(H_FAULT_MASK);
    const fields: Record<string, FieldValue> = {};
    for (let i = 0; i < layout.readers.length; i++) fields[layout.names[i] as string] = (layout.readers[i] as FieldReader)(payload, faultMask, comm);
    const isReturn = point.side === "return";
    const from = entry.byMntns?.get(payload.readBigUInt64LE(H_MNTNS));
    return {
      probeId: entry.probe.id,
      entry: point.entry,
      cookie,
      side: point.side,
      pid: payload.readUInt32LE(H_PID),
      tid: payload.readUInt32LE(H_TID),
      cpu: payload.readUInt32LE(H_CPU),
      comm,
      container: from?.container ?? entry.container,
      ...(entry.probe.target.containerId === null ? {} : { containerId: from?.containerId ?? entry.probe.target.containerId }),
      ...((from?.pod ?? entry.probe.target.pod) === undefined ? {} : { pod: from?.pod ?? entry.probe.target.pod }),
      timestamp: payload.readBigUInt64LE(H_TIMESTAMP),
      latency: isReturn && entry.pairedReturn ? payload.readBigUInt64LE(H_LATENCY) : null,
      // Signed: a C function's -1 or -ENOENT should read as such; user-space pointers stay positive.
      retval: isReturn ? payload.readBigInt64LE(H_RETVAL) : null,
      fields,
    };
  }
}

/** The plan's expression for each named field, to tell how to read it. */
function fieldExprs(probe: PlanProbe): Map<string, PlanExpr> {
  return new Map((probe.program?.fields ?? []).map((f) => [f.name, f.expr]));
}

/** The i-th field the program computes. */
function positional(probe: PlanProbe, i: number): PlanExpr | undefined {
  return probe.program?.fields[i]?.expr;
}

/**
 * Integers are 64-bit two's complement (probec_abi.h: "comparisons, `/`,
 * `%` and `>>` are signed"), so a slot reads as signed — except a value the
 * program explicitly made `u64`, and a USDT argument its note declares as
 * an unsigned 8-byte value (`8@…`: a hash or a counter above 2^63 must not
 * print negative).
 */
function isUnsigned64(expr: PlanExpr | undefined, probe: PlanProbe): boolean {
  if (expr?.op === "cast") return expr.to === "u64";
  if (expr?.op !== "arg") return false;
  for (const point of probe.points) {
    if (point.site.kind !== "usdt") continue;
    const arg = point.site.args[expr.index];
    return arg !== undefined && arg.size === 8 && !arg.signed;
  }
  return false;
}

function intReader(offset: number, bit: number, unsigned: boolean): FieldReader {
  const mask = 1 << bit;
  if (bit >= 32) return (event) => (unsigned ? event.readBigUInt64LE(offset) : event.readBigInt64LE(offset));
  return (event, faultMask) => ((faultMask & mask) !== 0 ? null : unsigned ? event.readBigUInt64LE(offset) : event.readBigInt64LE(offset));
}

function stringReader(offset: number, size: number, bit: number): FieldReader {
  const mask = 1 << bit;
  return (event, faultMask) => (bit < 32 && (faultMask & mask) !== 0 ? null : cString(event, offset, size));
}

/**
 * A `ustack` slot: a u64 count of frames, then the return addresses,
 * innermost first. The stack is the process's (the header's pid); its
 * frames are named later (StackNamer), so they are empty here.
 */
function stackReader(offset: number, size: number, bit: number): FieldReader {
  const mask = 1 << bit;
  const room = (size - 8) / 8;
  return (event, faultMask) => {
    if (bit < 32 && (faultMask & mask) !== 0) return null;
    const count = Math.min(Number(event.readBigUInt64LE(offset)), room);
    const addresses: bigint[] = [];
    for (let i = 0; i < count; i++) addresses.push(event.readBigUInt64LE(offset + 8 + i * 8));
    return { kind: "stack", pid: event.readUInt32LE(H_PID), frames: [], functions: [], addresses };
  };
}

/**
 * The captures the header carries whole (those with `abi: "header"` in
 * src/plan/captures.ts; a new one fails to compile here until it has a
 * reader): `comm` is the header's, `container` the plan's
 * (native/PROTOCOL.md, "Field layout").
 */
const HEADER_READERS: {
  readonly [K in HeaderCaptureName]: (container: string | null, byMntns: ReadonlyMap<bigint, EventContainer> | undefined) => FieldReader;
} = {
  comm: () => (_event, _mask, comm) => comm,
  // An entry of several containers: the one whose mount namespace the event carries.
  container: (container, byMntns) => (byMntns === undefined ? () => container : (event) => byMntns.get(event.readBigUInt64LE(H_MNTNS))?.container ?? container),
};

function headerReader(
  field: LayoutField,
  expr: PlanExpr | undefined,
  container: string | null,
  byMntns: ReadonlyMap<bigint, EventContainer> | undefined,
  entry: number,
): FieldReader {
  const capture = expr?.op === "capture" ? expr.name : field.name;
  if (Object.hasOwn(HEADER_READERS, capture)) return HEADER_READERS[capture as HeaderCaptureName](container, byMntns);
  throw protocolError(`layout of entry ${entry}: header field "${field.name}" is not one the header carries (${Object.keys(HEADER_READERS).join(", ")})`);
}

/** A NUL-terminated string in `size` bytes at `offset` (all `size` bytes when it was truncated). */
function cString(buffer: Buffer, offset: number, size: number): string {
  const end = offset + size;
  const nul = buffer.indexOf(0, offset);
  return buffer.toString("utf8", offset, nul === -1 || nul > end ? end : nul);
}
