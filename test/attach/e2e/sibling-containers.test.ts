/**
 * Issue 5, end-to-end test 6 (PITFALLS 19): two containers from one image:
 * events only from the targeted one.
 *
 * probec-attach-sib-a and probec-attach-sib-b run the same zoo_app from the
 * same image, so their libzoo.so is one inode of one image layer: a uprobe
 * on it fires in both, and only the container filter keeps b out. Both run
 * the same rounds; a second zoo_app started in each (docker exec) after
 * attach runs too: a's counts (its filter covers processes started after
 * attach), b's does not. A control run of the same plan with its filter
 * removed shows that b's calls do reach the probe: the shared layer is real.
 */
import { statSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const A = "probec-attach-sib-a";
const B = "probec-attach-sib-b";
const CALLS = 20;
const targets = new Targets();
let env: E2e;
let a: Target;
let b: Target;

beforeAll(async () => {
  env = await e2eSetup();
  a = await targets.container(env.image, A, "zoo_app", [String(CALLS)]);
  b = await targets.container(env.image, B, "zoo_app", [String(CALLS)]);
}, 120_000);

afterAll(() => targets.cleanup());

test("docker/a:libzoo:zoo_set2 sees a's calls, a's later process's calls, and none of b's", async () => {
  // One file underneath both: same layer inode (the overlay devices differ, PITFALLS 21).
  const inA = statSync(`/proc/${a.pid}/root/usr/lib/libzoo.so`);
  const inB = statSync(`/proc/${b.pid}/root/usr/lib/libzoo.so`);
  expect(inA.ino).toBe(inB.ino);

  const plan = await compilePlan("sibling", `uretprobe docker/${A}:libzoo:zoo_set2 {\n  rc = retval as i32\n  container\n}\n`, { docker: { host: env.host } });
  expect(plan.probes).toHaveLength(1);
  expect(plan.probes[0]!.filter).toMatchObject({ kind: "container", pids: [a.pid] });

  const trace = await Trace.start(plan);
  let a2: Target;
  let b2: Target;
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
    await b.round();
    await a.round();
    await trace.waitForEvents("probe1", CALLS);
    // Processes started after attach, in both containers.
    a2 = await targets.exec(a, "zoo_app", "status-2", [String(CALLS)]);
    b2 = await targets.exec(b, "zoo_app", "status-2", [String(CALLS)]);
    await b2.round();
    await a2.round();
    await b.round();
    await trace.waitForEvents("probe1", 2 * CALLS, { settleMs: 500 });
  } finally {
    await trace.close();
  }
  const events = trace.of("probe1");
  expect(events).toHaveLength(2 * CALLS);
  const byPid = new Map<number, number>();
  for (const e of events) byPid.set(e.pid, (byPid.get(e.pid) ?? 0) + 1);
  expect([...byPid.entries()].sort()).toEqual(
    [
      [a.pid, CALLS],
      [a2.pid, CALLS],
    ].sort(),
  );
  for (const e of events) expect(e).toMatchObject({ comm: "zoo_app", container: A, fields: { rc: -4n, container: A } });
});

test("control: the same plan without its filter sees b's calls (the layer is shared)", async () => {
  const plan = await compilePlan("sibling-control", `uretprobe docker/${A}:libzoo:zoo_set2 {\n  rc = retval as i32\n}\n`, { docker: { host: env.host } });
  const unfiltered = { ...plan, probes: plan.probes.map((p) => ({ ...p, filter: null })) };
  const trace = await Trace.start(unfiltered);
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
    await b.round();
    await trace.waitForEvents("probe1", CALLS);
  } finally {
    await trace.close();
  }
  // Other tests' containers may run zoo_app from the same image at the same moment: count b's.
  expect(trace.of("probe1").filter((e) => e.pid === b.pid)).toHaveLength(CALLS);
});
