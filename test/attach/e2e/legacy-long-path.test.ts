/**
 * Issue 5, end-to-end test 9 (PITFALLS 25): a path longer than 200
 * characters, legacy tracefs forced (`mode: "legacy"`): no event-name
 * errors, events arrive.
 *
 * worker runs from a directory more than 200 characters deep, and the
 * kernel is handed that long path: on the host with the `host` strategy,
 * and in a container with the `root` strategy (/proc/<pid>/root/… in
 * front). Legacy attachment writes one tracefs uprobe event per point; its
 * name must be at most 63 characters of [A-Za-z0-9_] whatever the path,
 * and the events must fire. After close none of the helper's events is
 * left in uprobe_events.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { helperPidsOf, tracefs, uprobeEvents } from "./support/kernel.js";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-longpath";
const CALLS = 9;
/** Four 62-character directory names: 251 characters below wherever they are put. */
const DEEP = [1, 2, 3, 4].map((i) => `${i}_${"probec_long_path_segment_".padEnd(60, "x")}`).join("/");
const targets = new Targets();
let env: E2e;

beforeAll(async () => {
  env = await e2eSetup();
  // Legacy attachment writes tracefs; the helper does not mount it (it says "mount tracefs"), a fresh machine may not have it.
  tracefs();
}, 120_000);

afterAll(() => targets.cleanup());

/** Attaches `source` in legacy mode; checks the helper's tracefs events while attached, the events, and that nothing is left. */
async function legacyFires(app: Target, source: string, kernelPath: RegExp, strategy: "host" | "root"): Promise<void> {
  const plan = await compilePlan(`long-${strategy}`, source, { docker: { host: env.host }, strategy });
  const path = plan.probes[0]!.binary.kernelPath;
  expect(path).toMatch(kernelPath);
  expect(path.length).toBeGreaterThan(200);

  const trace = await Trace.start(plan, "legacy");
  let helper: number | undefined;
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
    expect(trace.statuses("failed")).toEqual([]);
    expect(trace.statuses("attached")).toMatchObject([{ entry: 0, mode: "legacy", points: 1 }]);
    const helpers = helperPidsOf(process.pid);
    expect(helpers).toHaveLength(1);
    helper = helpers[0]!;
    // The helper's events: `r:probec/pc_<pid>_… PATH:0x…` (native/PROTOCOL.md), the name short and plain, the path the long one.
    const mine = uprobeEvents().filter((l) => l.includes(`probec/pc_${helper}_`));
    expect(mine).toHaveLength(1);
    const m = /^r(?::\d+)?:probec\/(\S+) (\S+):0x([0-9a-f]+)/.exec(mine[0]!);
    expect(m, mine[0]).not.toBeNull();
    expect(m![1]).toMatch(/^[A-Za-z0-9_]{1,63}$/);
    expect(m![2]).toBe(path);
    expect(Number.parseInt(m![3]!, 16)).toBe(plan.probes[0]!.points[0]!.fileOffset);

    const [line] = await app.round();
    expect(line).toBe(`round 1 calls ${CALLS} last ${100 + CALLS - 1}`);
    await trace.waitForEvents("probe1", CALLS);
  } finally {
    await trace.close();
  }
  expect(trace.of("probe1").map((e) => e.fields.v)).toEqual([...Array(CALLS).keys()].map((i) => BigInt(100 + i)));
  expect(uprobeEvents().filter((l) => l.includes(`probec/pc_${helper}_`))).toEqual([]);
}

test("on the host, strategy host: a 200+ character path, legacy tracefs", async () => {
  const dir = join(targets.statusDir(), DEEP);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "worker");
  copyFileSync(env.fixtures.path("worker"), file);
  expect(file.length).toBeGreaterThan(200);
  const app = await targets.host(file, [String(CALLS)]);
  await legacyFires(app, `uretprobe pid/${app.pid}:exe:work {\n  v = retval as i32\n}\n`, new RegExp(`^${file}$`), "host");
});

test("in a container, strategy root: /proc/<pid>/root/ + a 200+ character path, legacy tracefs", async () => {
  const first = await targets.container(env.image, NAME, "worker", [String(CALLS)]);
  const inside = `/${DEEP}/worker`;
  expect(inside.length).toBeGreaterThan(200);
  mkdirSync(`/proc/${first.pid}/root/${DEEP}`, { recursive: true });
  copyFileSync(env.fixtures.path("worker"), `/proc/${first.pid}/root${inside}`);
  const app = await targets.exec(first, inside, "status-long", [String(CALLS)]);
  await legacyFires(
    app,
    `uretprobe docker/${NAME}:${inside}:work {\n  v = retval as i32\n}\n`,
    new RegExp(`^/proc/(${first.pid}|${app.pid})/root${inside}$`),
    "root",
  );
});
