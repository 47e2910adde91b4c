/**
 * The BPF program's verification budget. Every `probec trace` waits for
 * the kernel's verifier before its first event, and the verifier's time
 * grows with the instructions it walks (`verified_insns` in the program's
 * fdinfo, Linux 5.16+). That count is exact for one kernel and one build,
 * so it is checked here instead of timing the load: a change that makes
 * the verifier walk the interpreter twice (two states reaching bpf_loop,
 * a point from either of two maps) doubles it and fails, whatever the
 * machine's load.
 *
 * Measured on this machine's 6.18 kernel: 21,700 before issue 15's speed
 * work, 41,288 after it (then ~650 ms to load), 26,175 once the states
 * were joined again (~45 ms). The budget leaves room for real features.
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { attach, compile, type AttachPlan } from "../../src/index.js";
import { attacherPids, buildCProgram, LineProgram, WORK_PROGRAM, type BuiltProgram } from "../support/line-program.js";

/** The most instructions the verifier may walk in probec's main program. */
const BUDGET = 32_000;

let built: BuiltProgram;

beforeAll(() => {
  built = buildCProgram("budgetapp", WORK_PROGRAM);
});

afterAll(() => built.remove());

/** `verified_insns` of each BPF program the process holds. */
function verifiedInsns(pid: number): number[] {
  const counts: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    const m = /^verified_insns:\s+(\d+)$/m.exec(info);
    if (/^prog_type:/m.test(info) && m !== null) counts.push(Number(m[1]));
  }
  return counts;
}

for (const store of ["task storage", "LRU hash only"] as const) {
  it(`${store}: the verifier walks at most ${BUDGET} instructions of probec's program`, async () => {
    const app = new LineProgram([built.program]);
    await app.line("ready");
    const source = `uprobe pid/${app.pid}:exe:work {\n  n = arg0\n}\nuprobe+ret pid/${app.pid}:exe:work {\n  latency\n}\n`;
    const { plan, diagnostics } = await compile(source, { file: "verifier-budget.test.probe" });
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const previous = process.env["PROBEC_ATTACH_NO_TASK_STORAGE"];
    if (store === "LRU hash only") process.env["PROBEC_ATTACH_NO_TASK_STORAGE"] = "1";
    const attachment = attach(plan as AttachPlan);
    try {
      expect(await attachment.ready).toEqual({ attached: 2, failed: 0, points: 3 });
      const [helper, ...others] = attacherPids();
      expect(others).toEqual([]);
      const counts = verifiedInsns(helper as number);
      // The tiny feature probes and the main program: the largest is the main one.
      expect(counts.length).toBeGreaterThan(0);
      const main = Math.max(...counts);
      expect(main).toBeGreaterThan(5_000);
      expect(main).toBeLessThanOrEqual(BUDGET);
    } finally {
      if (previous === undefined) delete process.env["PROBEC_ATTACH_NO_TASK_STORAGE"];
      else process.env["PROBEC_ATTACH_NO_TASK_STORAGE"] = previous;
      await attachment.close();
      await app.quit();
    }
  });
}
