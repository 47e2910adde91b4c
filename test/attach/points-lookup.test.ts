/**
 * How the BPF program finds the point that fired (native/bpf/probec.bpf.c,
 * handle_hit): by its cookie, in the hash `points`. The compiler numbers
 * cookies from 1; a plan from elsewhere may use any 64-bit cookie. Small
 * and far cookies run here side by side, on this machine's kernel, in one
 * plan, and every call is reported once with its own values, by the probe
 * whose cookie fired. (An array for small cookies saved ~40 ns a hit but
 * made every hit's path two for the verifier: the helper's load took
 * 2.5 times as long, which every `probec trace` waits for.)
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { attach, compile, type AttachPlan, type ProbeEvent } from "../../src/index.js";
import { buildCProgram, LineProgram, WORK_PROGRAM, type BuiltProgram } from "../support/line-program.js";

let built: BuiltProgram;

beforeAll(() => {
  built = buildCProgram("workapp", WORK_PROGRAM);
});

afterAll(() => built.remove());

/** Cookies far past the compiler's, and past 32 bits (a cookie is a u64). */
const FAR = 0x1_0000_0000 + 1_000_000;

it("small cookies and cookies past 32 bits in one plan: every call once, by the probe whose cookie fired", async () => {
  const app = new LineProgram([built.program]);
  await app.line("ready");
  const source = `uprobe pid/${app.pid}:exe:work {\n  n = arg0\n}\nuprobe+ret pid/${app.pid}:exe:work {\n  n = arg0\n  rc = retval\n}\n`;
  const { plan, diagnostics } = await compile(source, { file: "points-lookup.test.probe" });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const compiled = plan as AttachPlan;
  // The second probe's two points (entry and return) move to far cookies, their pairing with them.
  const far = (cookie: number): number => cookie + FAR;
  const probes = compiled.probes.map((p, i) =>
    i === 0 ? p : { ...p, points: p.points.map((pt) => ({ ...pt, cookie: far(pt.cookie), pairedWith: pt.pairedWith === null ? null : far(pt.pairedWith) })) },
  );
  expect(probes[0]?.points.every((pt) => pt.cookie < 512)).toBe(true);
  expect(probes[1]?.points.every((pt) => pt.cookie > 0xffff_ffff)).toBe(true);

  const attachment = attach({ ...compiled, probes });
  expect(await attachment.ready).toEqual({ attached: 2, failed: 0, points: 3 });
  const events = attachment[Symbol.asyncIterator]();
  for (let round = 0; round < 2; round++) {
    await app.run("go");
    const got: ProbeEvent[] = [];
    while (got.length < 10) {
      const r = await events.next();
      if (r.done === true) throw new Error(`the attachment ended after ${got.length} events`);
      got.push(r.value);
    }
    const of = (id: string) => got.filter((e) => e.probeId === id).map((e) => e.fields);
    expect(of("probe1")).toEqual([1n, 2n, 3n, 4n, 5n].map((n) => ({ n })));
    expect(of("probe2")).toEqual([1n, 2n, 3n, 4n, 5n].map((n) => ({ n, rc: n * 3n })));
  }
  const summary = await attachment.close();
  expect(summary.probes.map((p) => [p.id, p.hits, p.lost])).toEqual([
    ["probe1", 10, 0],
    ["probe2", 10, 0],
  ]);
  await app.quit();
});
