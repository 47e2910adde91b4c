/**
 * attach() against the real helper (prebuilds/<platform>-<arch>/probec-attach,
 * built by `npm run build:native`) and the real kernel: a C program compiled
 * here calls `work(n, name)` and fires a USDT probe `app:tick(n, name)` a
 * known number of times when told to; the events carry exactly those values.
 * Closing leaves no probec event in tracefs; a missing helper is one error
 * that lists what was tried.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attach, compile, AttachError, type AttachPlan, type ProbeEvent } from "../../src/index.js";
import { buildCProgram, LineProgram, type BuiltProgram } from "../support/line-program.js";

/** Waits for a line on stdin, then runs one round: ROUNDS calls of work() and ticks; exits on "quit". */
const PROGRAM = String.raw`
#include <stdio.h>
#include <string.h>
#include <sys/sdt.h>

#define ROUNDS 6

__attribute__((noinline, used)) long work(long n, const char *name) {
  __asm__ volatile("" ::: "memory");
  return n * 10 + (long)strlen(name);
}

int main(void) {
  char line[64], name[32];
  long round = 0;
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "quit", 4) != 0) {
    for (long i = 0; i < ROUNDS; i++) {
      long n = round * ROUNDS + i;
      snprintf(name, sizeof name, "item-%ld", n);
      work(n, name);
      DTRACE_PROBE2(app, tick, n, name);
    }
    round++;
    printf("done\n");
    fflush(stdout);
  }
  return 0;
}
`;

let built: BuiltProgram;
let dir: string;

beforeAll(() => {
  built = buildCProgram("app", PROGRAM);
  dir = built.dir;
});

afterAll(() => built.remove());

/** The program, started and waiting for "go". */
class App extends LineProgram {
  constructor() {
    super([built.program]);
  }

  /** One round of ROUNDS calls; resolves when the program has made them. */
  async round(): Promise<void> {
    await this.run("go");
  }
}

async function planFor(source: string): Promise<AttachPlan> {
  const { plan, diagnostics } = await compile(source, { file: "attach.test.probe" });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return plan as AttachPlan;
}

/** Reads events until `n` have come (or the attachment ends). */
async function take(events: AsyncIterator<ProbeEvent>, n: number): Promise<ProbeEvent[]> {
  const out: ProbeEvent[] = [];
  while (out.length < n) {
    const r = await events.next();
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

function probecUprobeEvents(): string[] {
  return readFileSync("/sys/kernel/tracing/uprobe_events", "utf8")
    .split("\n")
    .filter((l) => l.includes("probec"));
}

describe("attach() with the real helper", () => {
  it("uprobe+ret and USDT: the fields are what the program did, and close() detaches", async () => {
    const app = new App();
    await app.line("ready");
    const plan = await planFor(`
uprobe+ret pid/${app.pid}:exe:work {
  n = arg0
  name = str(arg1, 32)
  rc = retval
  latency
}
usdt pid/${app.pid}:exe:app:tick {
  where arg0 % 2 == 0
  n = arg0
  name = str(arg1)
  comm
}
`);
    const attachment = attach(plan);
    const ready = await attachment.ready;
    expect(ready).toEqual({ attached: 2, failed: 0, points: 3 });
    expect(attachment.statuses[0]).toMatchObject({ type: "hello", version: 1 });

    await app.round();
    const iterator = attachment[Symbol.asyncIterator]();
    // 6 returns of work() and the 3 even ticks.
    const events = await take(iterator, 9);
    const work = events.filter((e) => e.probeId === "probe1");
    const ticks = events.filter((e) => e.probeId === "probe2");
    expect(work.map((e) => e.fields)).toEqual(
      [0, 1, 2, 3, 4, 5].map((n) => ({ n: BigInt(n), name: `item-${n}`, rc: BigInt(n * 10 + `item-${n}`.length), latency: expect.any(BigInt) })),
    );
    for (const e of work) {
      expect([e.side, e.pid, e.tid, e.comm, e.container]).toEqual(["return", app.pid, app.pid, "app", null]);
      expect(e.retval).toBe(e.fields.rc);
      expect(e.latency).toBe(e.fields.latency);
      expect(e.latency! > 0n && e.latency! < 1_000_000_000n).toBe(true);
    }
    expect(ticks.map((e) => e.fields)).toEqual([0, 2, 4].map((n) => ({ n: BigInt(n), name: `item-${n}`, comm: "app" })));
    expect(ticks.every((e) => e.side === "entry" && e.latency === null && e.retval === null)).toBe(true);
    // Timestamps are CLOCK_MONOTONIC, the clock of process.hrtime.
    const now = process.hrtime.bigint();
    expect(events.every((e) => e.timestamp < now && now - e.timestamp < 10_000_000_000n)).toBe(true);

    const summary = await attachment.close();
    expect(summary).toEqual({
      reason: "SIGTERM",
      probes: [
        { id: "probe1", hits: 6, lost: 0, attached: 2, failed: 0 },
        { id: "probe2", hits: 3, lost: 0, attached: 1, failed: 0 },
      ],
    });
    expect(await attachment.close()).toBe(summary); // idempotent
    expect(attachment.statuses.at(-1)).toEqual({ type: "detached", reason: "SIGTERM" });
    expect((await iterator.next()).done).toBe(true);
    await app.quit();
  });

  it("legacy tracefs mode: events flow, and close() leaves no probec uprobe event behind", async () => {
    const app = new App();
    await app.line("ready");
    const plan = await planFor(`uprobe pid/${app.pid}:exe:work { n = arg0 }`);
    // Other test files attach in legacy mode at the same time: this attacher's events are the new ones.
    const before = new Set(probecUprobeEvents());
    const attachment = attach(plan, { mode: "legacy" });
    await attachment.ready;
    expect(attachment.statuses.find((s) => s.type === "attached")).toMatchObject({ mode: "legacy" });
    const mine = probecUprobeEvents().filter((l) => !before.has(l));
    expect(mine).toHaveLength(1);
    const owner = /probec\/(pc_\d+_)/.exec(mine[0]!)?.[1];
    expect(owner).toBeDefined();
    await app.round();
    const events = await take(attachment[Symbol.asyncIterator](), 6);
    expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
    await attachment.close();
    expect(probecUprobeEvents().filter((l) => l.includes(`probec/${owner}`))).toEqual([]);
    await app.quit();
  });

  it("the target exits: the helper detaches by itself and closed resolves with targetExited", async () => {
    const app = new App();
    await app.line("ready");
    const attachment = attach(await planFor(`uprobe pid/${app.pid}:exe:work { n = arg0 }`));
    await attachment.ready;
    await app.round();
    await app.quit();
    const summary = await attachment.closed;
    expect(summary.reason).toBe("targetExited");
    expect(summary.probes).toEqual([{ id: "probe1", hits: 6, lost: 0, attached: 1, failed: 0 }]);
    expect(attachment.statuses.map((s) => s.type)).toContain("targetExited");
    const all: ProbeEvent[] = [];
    for await (const e of attachment) all.push(e);
    expect(all.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
  });

  it("breaking out of for await closes the attachment", async () => {
    const app = new App();
    await app.line("ready");
    const attachment = attach(await planFor(`uprobe pid/${app.pid}:exe:work { n = arg0 }`));
    await attachment.ready;
    await app.round();
    for await (const e of attachment) {
      expect(e.fields.n).toBe(0n);
      break;
    }
    expect((await attachment.closed).reason).toBe("SIGTERM");
    await app.quit();
  });
});

describe("attach() with a plan JSON cannot carry", () => {
  it("a bigint in the plan is an AttachError from ready and closed, not a throw from attach()", async () => {
    const plan = { planVersion: 2, probes: [], note: 1n } as unknown as AttachPlan;
    const attachment = attach(plan);
    const error = (await attachment.ready.catch((e: unknown) => e)) as AttachError;
    expect(error).toBeInstanceOf(AttachError);
    expect(error.message).toMatch(/^attach\(plan\): the plan cannot be written as JSON: /);
    await expect(attachment.closed).rejects.toBe(error);
  });
});

describe("attach() without a usable helper", () => {
  it("PROBEC_ATTACH=/nonexistent: one AttachError listing the path tried and the solutions", async () => {
    const saved = process.env.PROBEC_ATTACH;
    process.env.PROBEC_ATTACH = "/nonexistent";
    try {
      const attachment = attach({ planVersion: 2, probes: [] });
      const error = (await attachment.ready.catch((e: unknown) => e)) as AttachError;
      expect(error).toBeInstanceOf(AttachError);
      expect(error.code).toBe("E_ATTACH");
      expect(error.message).toBe(
        "cannot find a usable probec-attach, the native helper that attaches probes; tried:\n    /nonexistent ($PROBEC_ATTACH): no such file",
      );
      expect(error.hints.join("\n")).toMatch(
        /npm run build:native[\s\S]*clang and the static libraries of libbpf-dev, libelf-dev and zlib1g-dev[\s\S]*BPF and uprobes[\s\S]*CAP_BPF and CAP_PERFMON/,
      );
      await expect(attachment.closed).rejects.toBe(error);
      await expect(attachment[Symbol.asyncIterator]().next()).rejects.toBe(error);
    } finally {
      if (saved === undefined) delete process.env.PROBEC_ATTACH;
      else process.env.PROBEC_ATTACH = saved;
    }
  });

  it("a helper that is not executable is named with why", async () => {
    const notExecutable = join(dir, "app.c");
    const error = (await attach({ planVersion: 2, probes: [] }, { helperPath: notExecutable }).ready.catch((e: unknown) => e)) as AttachError;
    expect(error.message).toBe(
      `cannot find a usable probec-attach, the native helper that attaches probes; tried:\n    ${notExecutable} (helperPath option): not executable (EACCES)`,
    );
  });

  it("the default place: the prebuilt binary for this platform, nothing downloaded or built", async () => {
    const { helperCandidates } = await import("../../src/attach/helper.js");
    const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
    expect(helperCandidates(undefined, {})).toEqual([{ path: `${root}/prebuilds/${process.platform}-${process.arch}/probec-attach`, source: "prebuilt" }]);
  });

  it("a supported platform without its prebuilt binary is told how to build it", async () => {
    const { locateHelper } = await import("../../src/attach/helper.js");
    const error = catchError(() => locateHelper(undefined, {}, dir, "linux-arm64"));
    expect(error).toBeInstanceOf(AttachError);
    expect((error as AttachError).message).toBe(
      `no probec-attach for linux-arm64, the native helper that attaches probes: build it with \`npm run build:native\` in ${dir}; tried:\n    ${dir}/prebuilds/linux-arm64/probec-attach (prebuilt): no such file`,
    );
    expect((error as AttachError).hints.join("\n")).toMatch(/make, gcc, clang and the static libraries of libbpf-dev, libelf-dev and zlib1g-dev/);
  });

  it("a platform probec-attach has no register layout for says so instead of sending the user to a build that cannot work", async () => {
    const { locateHelper } = await import("../../src/attach/helper.js");
    const error = catchError(() => locateHelper(undefined, {}, dir, "linux-riscv64"));
    expect(error).toBeInstanceOf(AttachError);
    expect((error as AttachError).message).toMatch(
      /^probec-attach, the native helper that attaches probes, exists for linux-x64 and linux-arm64 only, not for linux-riscv64; tried:\n/,
    );
    expect((error as AttachError).hints.join("\n")).toMatch(/pt_regs layout to native\/bpf\/probec\.bpf\.c and native\/src\/lower\.c/);
  });

  /** What `run` throws (these are synchronous lookups, not attachments). */
  function catchError(run: () => unknown): unknown {
    try {
      run();
    } catch (error) {
      return error;
    }
    throw new Error("expected an error, got none");
  }

  it("a malformed plan is refused before anything runs, naming the member", async () => {
    const error = (await attach({ planVersion: 3 } as unknown as AttachPlan).ready.catch((e: unknown) => e)) as AttachError;
    expect(error).toBeInstanceOf(AttachError);
    expect(error.message).toBe("attach(plan): planVersion: expected 2 (the plan format this probec executes), got 3");
  });
});
