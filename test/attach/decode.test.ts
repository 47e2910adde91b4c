/**
 * The JS side of native/PROTOCOL.md on bytes built here from the ABI
 * (native/include/probec_abi.h): frames cut anywhere by the pipe, several
 * frames per chunk, corrupt lengths and types; events decoded only through
 * the `layout` the helper reports (integers as bigint, strings up to NUL,
 * faults as null, header captures); status checks; the event queue's flow
 * control; and the per-probe summary.
 */
import { describe, expect, it } from "vitest";
import type { StackKey } from "../../src/attach/aggregate-types.js";
import { EventQueue, HIGH_WATER, LOW_WATER } from "../../src/attach/event-queue.js";
import { EventDecoder, EVENT_HEADER_BYTES, type ProbeEvent } from "../../src/attach/events.js";
import { FRAME_EVENT, FRAME_STATUS, FrameDecoder, MAX_FRAME_BYTES } from "../../src/attach/frames.js";
import { checkLayout, parseStatus, type AttachStatus } from "../../src/attach/status.js";
import { SummaryTally } from "../../src/attach/summary.js";
import type { AttachPlan, PlanField, PlanProbe, ProbeKind } from "../../src/compile/plan.js";
import { AttachError } from "../../src/errors.js";
import { FAKE_LIBC_BINARY } from "../support/plan-binary.js";

/** One frame as the helper writes it: length and type (u32, host order = little-endian here), then the payload. */
function frame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(type, 4);
  return Buffer.concat([header, payload]);
}

function statusFrame(status: object): Buffer {
  return frame(FRAME_STATUS, Buffer.from(JSON.stringify(status)));
}

/** struct probec_event_header, by its field offsets in probec_abi.h, then `slots` bytes of slots. */
function eventRecord(
  h: { cookie: number; timestamp?: bigint; latency?: bigint; retval?: bigint; pid?: number; tid?: number; cpu?: number; faultMask?: number; comm?: string },
  size: number,
): Buffer {
  const b = Buffer.alloc(size);
  b.writeBigUInt64LE(BigInt(h.cookie), 0);
  b.writeBigUInt64LE(h.timestamp ?? 0n, 8);
  b.writeBigUInt64LE(h.latency ?? 0n, 16);
  b.writeBigUInt64LE(BigInt.asUintN(64, h.retval ?? 0n), 24);
  b.writeUInt32LE(h.pid ?? 0, 32);
  b.writeUInt32LE(h.tid ?? 0, 36);
  b.writeUInt32LE(h.cpu ?? 0, 40);
  b.writeUInt32LE(h.faultMask ?? 0, 44);
  b.writeBigUInt64LE(4026531841n, 48);
  b.write(h.comm ?? "", 56, 16, "latin1");
  return b;
}

function probe(id: string, kind: ProbeKind, cookies: number[], fields: PlanField[], opts: { container?: [string, string | null] } = {}): PlanProbe {
  const [containerId, containerName] = opts.container ?? [null, null];
  return {
    id,
    kind,
    specText: `${kind} pid/1:libc:f`,
    source: { file: "<inline>", line: 1, col: 1 },
    strategy: "fd",
    target: { spec: "pid/1:libc:f", runtime: containerId === null ? "pid" : "docker", containerId, containerName, mntNs: 1, processes: [] },
    binary: FAKE_LIBC_BINARY,
    points: cookies.map((cookie, i) => ({
      cookie,
      side: kind === "uretprobe" || (kind === "uprobe+ret" && i % 2 === 1) ? "return" : "entry",
      fileOffset: 0x1000,
      refCtrOffset: null,
      pairedWith: null,
      site: { kind: "symbol", name: "f", version: null, address: "0x1000", size: 1 },
    })),
    filter: { kind: "process", containerId: null, cgroupPaths: [], pids: [1] },
    program: { fields, filter: null, format: null, aggregates: [], strlen: 64 },
  };
}

const int = (name: string, expr: PlanField["expr"] = { op: "arg", index: 0 }): PlanField => ({ name, type: "int", expr });
const str = (name: string): PlanField => ({ name, type: "string", expr: { op: "str", arg: { op: "arg", index: 1 }, maxLen: 16 } });
const capture = (name: "comm" | "container"): PlanField => ({ name, type: "string", expr: { op: "capture", name } });

const plan: AttachPlan = {
  planVersion: 2,
  probes: [
    probe(
      "calls",
      "uprobe+ret",
      [1, 2],
      [int("n"), str("s"), int("big", { op: "cast", to: "u64", expr: { op: "arg", index: 2 } }), capture("comm"), capture("container")],
      { container: ["c0ffee", "web"] },
    ),
    probe("rets", "uretprobe", [3], [int("rc", { op: "cast", to: "i32", expr: { op: "capture", name: "retval" } })]),
  ],
};

// As the helper sends them: header fields have no slot, so no offset or size.
const layout0: AttachStatus = {
  type: "layout",
  entry: 0,
  eventSize: 112,
  fields: [
    { name: "n", type: "int", offset: 72, size: 8 },
    { name: "s", type: "string", offset: 80, size: 16 },
    { name: "big", type: "int", offset: 96, size: 8 },
    { name: "comm", type: "header" },
    { name: "container", type: "header" },
  ],
};
const layout1: AttachStatus = { type: "layout", entry: 1, eventSize: 80, fields: [{ name: "rc", type: "int", offset: 72, size: 8 }] };

function decoderWithLayouts(): EventDecoder {
  const d = new EventDecoder(plan);
  d.setLayout(checkLayout(parseStatus(Buffer.from(JSON.stringify(layout0)))));
  d.setLayout(checkLayout(parseStatus(Buffer.from(JSON.stringify(layout1)))));
  return d;
}

function entry0Event(faultMask = 0): Buffer {
  const e = eventRecord({ cookie: 2, timestamp: 123456789012n, latency: 5000n, retval: -2n, pid: 4321, tid: 4322, cpu: 1, faultMask, comm: "worker" }, 112);
  e.writeBigInt64LE(-7n, 72);
  e.write("hello\0garbage!!", 80, "latin1");
  e.writeBigUInt64LE(0xffff_ffff_ffff_fffen, 96);
  return e;
}

describe("FrameDecoder", () => {
  const stream = Buffer.concat([
    statusFrame({ type: "hello", version: 1 }),
    frame(FRAME_EVENT, Buffer.from("0123456789")),
    frame(FRAME_EVENT, Buffer.alloc(0)),
    statusFrame({ type: "ready", attached: 1, failed: 0, points: 2 }),
  ]);
  const expected = [
    { type: FRAME_STATUS, payload: JSON.stringify({ type: "hello", version: 1 }) },
    { type: FRAME_EVENT, payload: "0123456789" },
    { type: FRAME_EVENT, payload: "" },
    { type: FRAME_STATUS, payload: JSON.stringify({ type: "ready", attached: 1, failed: 0, points: 2 }) },
  ];
  const text = (frames: { type: number; payload: Buffer }[]) => frames.map((f) => ({ type: f.type, payload: f.payload.toString() }));

  it("several frames in one chunk", () => {
    const d = new FrameDecoder();
    expect(text(d.push(stream))).toEqual(expected);
    expect(d.pending).toBe(0);
  });

  it("the same frames whatever two places the pipe cuts the stream", () => {
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b += 7) {
        const d = new FrameDecoder();
        const got = [...d.push(stream.subarray(0, a)), ...d.push(stream.subarray(a, b)), ...d.push(stream.subarray(b))];
        expect(text(got)).toEqual(expected);
      }
    }
  });

  it("one byte at a time", () => {
    const d = new FrameDecoder();
    const got = [];
    for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
    expect(text(got)).toEqual(expected);
  });

  it("a length beyond 16 MiB is refused at once, naming the length and where", () => {
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(MAX_FRAME_BYTES + 1, 0);
    bad.writeUInt32LE(FRAME_EVENT, 4);
    const d = new FrameDecoder();
    d.push(statusFrame({ type: "hello", version: 1 }));
    const at = statusFrame({ type: "hello", version: 1 }).length;
    expect(() => d.push(bad)).toThrow(AttachError);
    expect(() => new FrameDecoder().push(Buffer.concat([statusFrame({ type: "hello", version: 1 }), bad]))).toThrow(
      `probec-attach output: frame length ${MAX_FRAME_BYTES + 1} exceeds the ${MAX_FRAME_BYTES}-byte limit at byte ${at}`,
    );
    expect(() => d.push(statusFrame({ type: "ready" }))).toThrow("the stream is already corrupt");
  });

  it("a frame of exactly 16 MiB is accepted", () => {
    const payload = Buffer.alloc(MAX_FRAME_BYTES, 1);
    const frames = new FrameDecoder().push(frame(FRAME_EVENT, payload));
    expect(frames).toHaveLength(1);
    expect(frames[0]?.payload.length).toBe(MAX_FRAME_BYTES);
  });

  it("garbage (text instead of frames) is an unknown frame type", () => {
    expect(() => new FrameDecoder().push(Buffer.from("libbpf: failed to load object\n"))).toThrow(/^probec-attach output: unknown frame type \d+ at byte 0;/);
  });
});

describe("status messages", () => {
  it("parses a status and refuses what is not one", () => {
    expect(parseStatus(Buffer.from('{"type":"ready","attached":2,"failed":0,"points":4}'))).toEqual({ type: "ready", attached: 2, failed: 0, points: 4 });
    expect(() => parseStatus(Buffer.from("{oops"))).toThrow(/a status frame is not JSON .*"\{oops"/);
    expect(() => parseStatus(Buffer.from("[1]"))).toThrow('a status frame is not a JSON object: "[1]"');
    expect(() => parseStatus(Buffer.from('{"type":"party"}'))).toThrow('unknown status type "party"');
  });

  it("a layout with a bad field names it", () => {
    expect(() => checkLayout({ type: "layout", entry: 0, eventSize: 80, fields: [{ name: "x", type: "float", offset: 72, size: 8 }] })).toThrow(
      'layout of entry 0: field "x" has type "float"',
    );
    expect(() => checkLayout({ type: "layout", entry: 0, eventSize: 80, fields: [{ name: "x", type: "int", offset: -1, size: 8 }] })).toThrow(
      'field "x" has no valid offset and size',
    );
    expect(() => checkLayout({ type: "layout", entry: -1, eventSize: 80, fields: [] })).toThrow("no valid entry index");
  });
});

describe("EventDecoder", () => {
  it("decodes an event with its entry's layout: bigints, strings to NUL, header captures, latency and retval", () => {
    const event = decoderWithLayouts().decode(entry0Event());
    expect(event).toEqual<ProbeEvent>({
      probeId: "calls",
      entry: 0,
      cookie: 2,
      side: "return",
      pid: 4321,
      tid: 4322,
      cpu: 1,
      comm: "worker",
      container: "web",
      containerId: "c0ffee",
      timestamp: 123456789012n,
      latency: 5000n,
      retval: -2n,
      fields: { n: -7n, s: "hello", big: 0xffff_ffff_ffff_fffen, comm: "worker", container: "web" },
    });
    expect(Object.keys(event.fields)).toEqual(["n", "s", "big", "comm", "container"]);
  });

  it("fault_mask bit i (i-th field with a slot) makes that field null", () => {
    expect(decoderWithLayouts().decode(entry0Event(0b010)).fields).toEqual({ n: -7n, s: null, big: 0xffff_ffff_ffff_fffen, comm: "worker", container: "web" });
    expect(decoderWithLayouts().decode(entry0Event(0b101)).fields).toEqual({ n: null, s: "hello", big: null, comm: "worker", container: "web" });
  });

  it("a string that fills its slot (truncated, no NUL) is all its bytes", () => {
    const e = entry0Event();
    e.write("abcdefghijklmnop", 80, "latin1");
    expect(decoderWithLayouts().decode(e).fields.s).toBe("abcdefghijklmnop");
  });

  it("the layout's offsets are the ones used, not fixed ones", () => {
    const d = new EventDecoder(plan);
    // The same fields in another order: the decoder must follow.
    d.setLayout(
      checkLayout({
        ...layout0,
        fields: [
          { name: "big", type: "int", offset: 72, size: 8 },
          { name: "n", type: "int", offset: 80, size: 8 },
          { name: "s", type: "string", offset: 88, size: 16 },
        ],
      }),
    );
    const e = eventRecord({ cookie: 1, pid: 1, comm: "x" }, 112);
    e.writeBigInt64LE(1n, 72);
    e.writeBigInt64LE(2n, 80);
    e.write("three\0", 88, "latin1");
    const event = d.decode(e);
    expect(event.fields).toEqual({ big: 1n, n: 2n, s: "three" });
    expect([event.side, event.latency, event.retval]).toEqual(["entry", null, null]);
  });

  it("uretprobe: retval without latency; container null outside containers", () => {
    const e = eventRecord({ cookie: 3, retval: -4n, latency: 99n, comm: "zk" }, 80);
    e.writeBigInt64LE(-4n, 72);
    const event = decoderWithLayouts().decode(e);
    expect([event.probeId, event.side, event.retval, event.latency, event.container, event.fields.rc]).toEqual(["rets", "return", -4n, null, null, -4n]);
  });

  it("refuses events that do not fit the plan or the layout", () => {
    const d = decoderWithLayouts();
    expect(() => d.decode(eventRecord({ cookie: 99 }, 80))).toThrow("an event has cookie 99, which no point of the plan has");
    expect(() => d.decode(Buffer.alloc(EVENT_HEADER_BYTES - 1))).toThrow("an event of 71 bytes is shorter than the 72-byte header");
    expect(() => d.decode(entry0Event().subarray(0, 100))).toThrow("an event of entry 0 has 100 bytes; its layout says 112");
    expect(() => new EventDecoder(plan).decode(entry0Event())).toThrow("an event of entry 0 came before its layout");
  });

  it("refuses a layout whose slots leave the event, or that names an entry the plan does not have", () => {
    const d = new EventDecoder(plan);
    expect(() => d.setLayout({ type: "layout", entry: 0, eventSize: 80, fields: [{ name: "n", type: "int", offset: 76, size: 8 }] })).toThrow(
      'field "n" (offset 76, 8 bytes) is outside the event\'s slots (72..80)',
    );
    expect(() => d.setLayout({ type: "layout", entry: 0, eventSize: 80, fields: [{ name: "n", type: "int", offset: 8, size: 8 }] })).toThrow(
      "outside the event's slots",
    );
    expect(() => d.setLayout({ type: "layout", entry: 5, eventSize: 80, fields: [] })).toThrow("a layout names entry 5, but the plan has 2 entries");
  });

  it("a USDT argument the note declares unsigned 8-byte reads unsigned; a signed one and a smaller one read signed", () => {
    const usdtArg = (index: number, size: number, signed: boolean) => ({
      spec: `${signed ? "-" : ""}${size}@%rax`,
      index,
      size,
      signed,
      kind: "register" as const,
    });
    const usdt = probe("u", "usdt", [9], [int("hash", { op: "arg", index: 0 }), int("delta", { op: "arg", index: 1 }), int("small", { op: "arg", index: 2 })]);
    usdt.points = usdt.points.map((p) => ({
      ...p,
      site: {
        kind: "usdt",
        provider: "app",
        name: "tick",
        address: "0x1000",
        semaphoreAddress: null,
        argsText: "8@%rax -8@%rbx 4@%ecx",
        args: [usdtArg(0, 8, false), usdtArg(1, 8, true), usdtArg(2, 4, false)],
      },
    }));
    const d = new EventDecoder({ planVersion: 2, probes: [usdt] });
    d.setLayout({
      type: "layout",
      entry: 0,
      eventSize: 96,
      fields: [
        { name: "hash", type: "int", offset: 72, size: 8 },
        { name: "delta", type: "int", offset: 80, size: 8 },
        { name: "small", type: "int", offset: 88, size: 8 },
      ],
    });
    const e = eventRecord({ cookie: 9 }, 96);
    e.writeBigUInt64LE(0xdead_beef_0000_0001n, 72);
    e.writeBigInt64LE(-5n, 80);
    e.writeBigInt64LE(7n, 88);
    expect(d.decode(e).fields).toEqual({ hash: 0xdead_beef_0000_0001n, delta: -5n, small: 7n });
  });

  it("a ustack field: the u64 frame count, then that many addresses of the event's process; a fault is null", () => {
    const stacks: AttachPlan = {
      planVersion: 2,
      probes: [probe("st", "uprobe", [7], [{ name: "stack", type: "stack", expr: { op: "ustack", frames: 4 } }, int("n")])],
    };
    const d = new EventDecoder(stacks);
    expect(d.stackFields(0)).toEqual([]);
    d.setLayout(
      checkLayout(
        parseStatus(
          Buffer.from(
            JSON.stringify({
              type: "layout",
              entry: 0,
              eventSize: 120,
              fields: [
                { name: "stack", type: "stack", offset: 72, size: 40 },
                { name: "n", type: "int", offset: 112, size: 8 },
              ],
            }),
          ),
        ),
      ),
    );
    expect(d.stackFields(0)).toEqual(["stack"]);
    const e = eventRecord({ cookie: 7, pid: 4242 }, 120);
    e.writeBigUInt64LE(3n, 72);
    e.writeBigUInt64LE(0x5555_0000_1139n, 80);
    e.writeBigUInt64LE(0x5555_0000_1200n, 88);
    e.writeBigUInt64LE(0x7f00_0000_2000n, 96);
    e.writeBigUInt64LE(0xffff_ffffn, 104); // past the count: stale bytes of an earlier event
    e.writeBigInt64LE(5n, 112);
    expect(d.decode(e).fields).toEqual({
      stack: { kind: "stack", pid: 4242, frames: [], functions: [], addresses: [0x5555_0000_1139n, 0x5555_0000_1200n, 0x7f00_0000_2000n] },
      n: 5n,
    });
    // A count beyond the slot (a corrupt record) reads only what the slot holds.
    e.writeBigUInt64LE(1000n, 72);
    expect((d.decode(e).fields.stack as StackKey).addresses).toHaveLength(4);
    // Bit 0: the first slot (the stack) faulted.
    const faulted = eventRecord({ cookie: 7, faultMask: 1 }, 120);
    expect(d.decode(faulted).fields).toEqual({ stack: null, n: 0n });
  });

  it("a ustack slot whose size is not 8 + 8 per frame is a protocol error naming the field", () => {
    const d = new EventDecoder({ planVersion: 2, probes: [probe("st", "uprobe", [7], [{ name: "stack", type: "stack", expr: { op: "ustack", frames: 4 } }])] });
    expect(() => d.setLayout({ type: "layout", entry: 0, eventSize: 96, fields: [{ name: "stack", type: "stack", offset: 72, size: 20 }] })).toThrow(
      /stack field "stack" has 20 bytes, not 8 \+ 8 per frame/,
    );
  });
});

describe("EventQueue", () => {
  const ev = (n: number) => ({ cookie: n }) as unknown as ProbeEvent;

  it("pauses the producer at the high-water mark and resumes it under the low one", async () => {
    const calls: string[] = [];
    const q = new EventQueue({ pause: () => calls.push("pause"), resume: () => calls.push("resume") });
    for (let i = 0; i < HIGH_WATER - 1; i++) q.push(ev(i));
    expect(calls).toEqual([]);
    q.push(ev(HIGH_WATER - 1));
    expect(calls).toEqual(["pause"]);
    for (let i = 0; i < 5; i++) q.push(ev(HIGH_WATER + i)); // the producer may still deliver what it already read
    expect(calls).toEqual(["pause"]);
    let read = 0;
    while (q.length > LOW_WATER) {
      expect((await q.next()).value?.cookie).toBe(read++);
    }
    expect(calls).toEqual(["pause", "resume"]);
    q.end();
    while (!(await q.next()).done) read++;
    expect(read).toBe(HIGH_WATER + 5);
  });

  it("a waiting consumer gets the next event directly; after end it reads the rest, then the error", async () => {
    const q = new EventQueue({ pause: () => undefined, resume: () => undefined });
    const waiting = q.next();
    q.push(ev(1));
    expect((await waiting).value?.cookie).toBe(1);
    q.push(ev(2));
    q.end(new AttachError("helper died"));
    expect((await q.next()).value?.cookie).toBe(2);
    await expect(q.next()).rejects.toThrow("helper died");
  });

  it("release() (on close) resumes a paused producer and never pauses it again, keeping what is queued", async () => {
    const calls: string[] = [];
    const q = new EventQueue({ pause: () => calls.push("pause"), resume: () => calls.push("resume") });
    for (let i = 0; i < HIGH_WATER; i++) q.push(ev(i));
    q.release();
    for (let i = 0; i < HIGH_WATER; i++) q.push(ev(HIGH_WATER + i));
    expect(calls).toEqual(["pause", "resume"]);
    expect(q.length).toBe(2 * HIGH_WATER);
    expect((await q.next()).value?.cookie).toBe(0);
  });

  it("end() wakes a waiting consumer", async () => {
    const q = new EventQueue({ pause: () => undefined, resume: () => undefined });
    const waiting = q.next();
    q.end();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });
});

describe("SummaryTally", () => {
  it("sums entries per probe id: hits, the latest cumulative lost, points attached and failed", () => {
    const twoEntries: AttachPlan = {
      planVersion: 2,
      probes: [probe("a", "uprobe", [1, 2, 3], []), probe("a", "uprobe", [4, 5], []), probe("b", "uprobe", [6], [])],
    };
    const t = new SummaryTally(twoEntries);
    t.status({ type: "attached", entry: 0, mode: "multi", path: "/proc/self/fd/5", points: 3 });
    t.status({ type: "failed", entry: 1, reason: "no such file", errno: "ENOENT", cookie: 5 });
    t.status({ type: "failed", entry: 2, reason: "build-id differs", errno: null, cookie: null });
    t.status({ type: "ready", attached: 1, failed: 2, points: 4 });
    for (const entry of [0, 0, 1, 0]) t.hit(entry);
    t.status({ type: "lost", entries: { "0": 3, "1": 1 } });
    t.status({ type: "lost", entries: { "0": 5 } });
    expect(t.summary("SIGTERM")).toEqual({
      reason: "SIGTERM",
      probes: [
        { id: "a", hits: 4, lost: 6, attached: 4, failed: 1 },
        { id: "b", hits: 0, lost: 0, attached: 0, failed: 1 },
      ],
    });
  });

  it("a probe that aggregates: its hits are its first aggregation's counts (and drops) over the reports that reset and the final one", () => {
    const t = new SummaryTally({ planVersion: 2, probes: [probe("agg", "uprobe", [1], [])] });
    const result = (index: number, counts: bigint[], dropped: bigint) => ({
      probeId: "agg",
      index,
      fn: "count" as const,
      text: "count",
      keyNames: [],
      lhist: null,
      unit: null,
      rows: counts.map((count) => ({ keys: [], count, sum: 0n, min: 0n, max: 0n })),
      dropped,
    });
    t.report({ seq: 1, final: false, reset: true, results: [result(0, [3n, 4n], 1n), result(1, [100n], 0n)] });
    // Asked for without reset (--metrics): a look, not a span of its own.
    t.report({ seq: 2, final: false, reset: false, results: [result(0, [50n], 0n)] });
    t.report({ seq: 3, final: true, reset: false, results: [result(0, [2n], 0n)] });
    expect(t.summary("SIGTERM", undefined).probes).toEqual([{ id: "agg", hits: 10, lost: 0, attached: 0, failed: 0 }]);
  });
});
