/**
 * The aggregation API of an attachment against the real helper and kernel
 * (issue 15): `report({ reset })` on a following attachment answers with the
 * values the kernel holds now (and empties the maps when asked),
 * `aggregates()` hands every report over in order and ends after the final
 * one, `AttachSummary.aggregates` is that final one; a process whose stack
 * was captured and that exited before the report still names its frames
 * (its maps were read at `stackProcess`), as keys and as fields; and
 * `report()` of an attachment that takes no commands asks by signal.
 *
 * The program, compiled here with frame pointers: `go N` calls a() → b() →
 * c() N times and says `done`; run as `once N` it makes N calls, waits
 * 1.5 s (time for probec to read its maps when the kernel first sees its
 * stack, even on a loaded machine) and exits.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachFollowing } from "../../src/attach/attach.js";
import { AttachError, attach, compile, type AggregateSnapshot, type AttachPlan, type ProbeEvent, type StackKey } from "../../src/index.js";

const PROGRAM = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline, used)) long c(long n) { __asm__ volatile("" ::: "memory"); return n + 1; }
__attribute__((noinline, used)) long b(long n) { return c(n) * 2; }
__attribute__((noinline, used)) long a(long n) { return b(n) + 3; }

int main(int argc, char **argv) {
  char line[64];
  if (argc == 3 && strcmp(argv[1], "once") == 0) {
    for (long i = 0; i < atol(argv[2]); i++) a(i);
    usleep(1500000);
    return 0;
  }
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "go ", 3) == 0) {
    for (long i = 0; i < atol(line + 3); i++) a(i);
    printf("done\n");
    fflush(stdout);
  }
  return 0;
}
`;

let dir: string;
let program: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "probec-attach-aggregates-"));
  writeFileSync(join(dir, "abc.c"), PROGRAM);
  program = join(dir, "abc");
  execFileSync("gcc", ["-O1", "-fno-omit-frame-pointer", "-fno-inline", "-o", program, join(dir, "abc.c")]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The long-running program: `calls(n)` makes n calls and waits for them to be done. */
class Looper {
  readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private waiting: (() => void) | undefined;

  constructor() {
    this.child = spawn(program, [], { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      this.lines.push(line);
      this.waiting?.();
    });
  }

  async line(text: string): Promise<void> {
    while (this.lines.shift() !== text) await new Promise<void>((resolve) => (this.waiting = resolve));
  }

  async calls(n: number): Promise<void> {
    this.child.stdin?.write(`go ${n}\n`);
    await this.line("done");
  }

  async quit(): Promise<void> {
    const exited = once(this.child, "exit");
    this.child.stdin?.end();
    await exited;
  }
}

async function planOf(source: string): Promise<AttachPlan> {
  const { plan, diagnostics } = await compile(source);
  if (plan === undefined) throw new Error(diagnostics.map((d) => d.message).join("\n"));
  return plan;
}

/** The count of the first row of `text` in a report. */
function countOf(snapshot: AggregateSnapshot, text: string): bigint | undefined {
  return snapshot.results.find((r) => r.text === text)?.rows[0]?.count;
}

describe("aggregations through attach()", () => {
  it("report({reset}) on a following attachment, aggregates() in order, and the final report in the summary", async () => {
    const looper = new Looper();
    await looper.line("ready");
    const attachment = attachFollowing({ planVersion: 2, probes: [] });
    await attachment.ready;
    const seen: AggregateSnapshot[] = [];
    const iterated = (async () => {
      for await (const snapshot of attachment.aggregates()) seen.push(snapshot);
    })();
    const plan = await planOf(`uprobe pid/${looper.child.pid}:${program}:c {\n  count\n  hist(arg0)\n}`);
    const added = await attachment.addProbes(plan.probes);
    expect(added.failed).toEqual([]);

    await looper.calls(10);
    const look = await attachment.report();
    expect(look).toMatchObject({ final: false, reset: false });
    expect(countOf(look, "count")).toBe(10n);
    // arg0 was 0..9: [0] once, [1] once, [2, 4) twice, [4, 8) four times, [8, 16) twice.
    expect(look.results.find((r) => r.fn === "hist")?.rows[0]?.buckets?.map((b) => [b.low, b.high, b.count])).toEqual([
      [0n, 1n, 1n],
      [1n, 2n, 1n],
      [2n, 4n, 2n],
      [4n, 8n, 4n],
      [8n, 16n, 2n],
    ]);

    await looper.calls(5);
    const emptied = await attachment.report({ reset: true });
    expect(emptied).toMatchObject({ final: false, reset: true });
    expect(countOf(emptied, "count")).toBe(15n);

    await looper.calls(3);
    const summary = await attachment.close();
    await iterated;
    expect(summary.aggregates).toMatchObject({ final: true, reset: false });
    expect(countOf(summary.aggregates as AggregateSnapshot, "count")).toBe(3n);
    expect(seen.map((s) => [s.seq, s.final, s.reset])).toEqual([
      [look.seq, false, false],
      [emptied.seq, false, true],
      [(summary.aggregates as AggregateSnapshot).seq, true, false],
    ]);
    expect(seen.at(-1)).toBe(summary.aggregates);
    await looper.quit();
  });

  it("a process that exited before the report: its stacks are named from the maps read when the kernel first saw it", async () => {
    const warnings: string[] = [];
    const plan = await planOf(`uprobe host:${program}:c {\n  count by ustack\n}\nuprobe host:${program}:b {\n  n = arg0\n  stack = ustack\n}`);
    const attachment = attach(plan, { onWarning: (w) => warnings.push(w) });
    await attachment.ready;
    const child = spawn(program, ["once", "4"], { stdio: "ignore" });
    await once(child, "exit");
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const event of attachment) events.push(event);
    })();
    // The report comes at close, after the process is gone.
    const summary = await attachment.close();
    await reading;
    const [result] = summary.aggregates?.results ?? [];
    expect(result?.text).toBe("count by ustack");
    expect(result?.rows).toHaveLength(1);
    const key = result?.rows[0]?.keys[0] as StackKey;
    expect(result?.rows[0]?.count).toBe(4n);
    expect(key.pid).toBe(child.pid);
    // A frame-pointer walk from a function's first instruction skips the immediate caller (the return address is still at
    // [SP], not in a frame); the BPF program puts it back, also for leaf c, which never builds a frame of its own.
    expect(key.frames[0]).toBe("c+0x0");
    expect(key.functions.slice(0, 4)).toEqual(["c", "b", "a", "main"]);
    expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n]);
    for (const event of events) {
      const stack = event.fields.stack as StackKey;
      expect(stack.pid).toBe(child.pid);
      expect(stack.frames[0]).toBe("b+0x0");
      expect(stack.functions.slice(0, 3)).toEqual(["b", "a", "main"]);
    }
    expect(warnings).toEqual([]);
  });

  it("report() of an attachment that takes no commands asks the helper by signal, with and without reset", async () => {
    const looper = new Looper();
    await looper.line("ready");
    const attachment = attach(await planOf(`uprobe pid/${looper.child.pid}:${program}:c { count }`));
    await attachment.ready;
    await looper.calls(7);
    const [look, again] = await Promise.all([attachment.report(), attachment.report()]);
    expect(look).toMatchObject({ final: false, reset: false });
    expect(countOf(look, "count")).toBe(7n);
    expect(countOf(again, "count")).toBe(7n);
    expect(again.seq).toBe(look.seq + 1);
    await looper.calls(2);
    const emptied = await attachment.report({ reset: true });
    expect(emptied).toMatchObject({ final: false, reset: true });
    expect(countOf(emptied, "count")).toBe(9n);
    await looper.calls(4);
    const summary = await attachment.close();
    expect(countOf(summary.aggregates as AggregateSnapshot, "count")).toBe(4n);
    await expect(attachment.report()).rejects.toThrow(AttachError);
    await looper.quit();
  });
});
