/**
 * Issue 5, end-to-end test 3: USDT with arguments and a filter
 * (`arg1 % 2 == 0`): values and strings are exact; a probe with a semaphore
 * is only enabled while attached.
 *
 * usdt_app (container probec-attach-usdt) fires e2e:tick(seq, n, first,
 * second) TICKS times per round with n = seq - 5 (so the filter meets
 * negative, zero and positive values of a 4-byte signed argument), and
 * e2e:guarded(round) only when its semaphore is up; each round it reports
 * the semaphore as it reads it through E2E_GUARDED_ENABLED(). The kernel
 * raises the semaphore for an attached probe with ref_ctr_offset and must
 * lower it again at detach.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-usdt";
const TICKS = 10;
const targets = new Targets();
let env: E2e;
let app: Target;

beforeAll(async () => {
  env = await e2eSetup();
  app = await targets.container(env.image, NAME, "usdt_app", [String(TICKS)]);
}, 120_000);

afterAll(() => targets.cleanup());

test("e2e:tick with `where arg1 % 2 == 0`: the even n only, with exact values and strings; e2e:guarded only while attached", async () => {
  const source = `usdt docker/${NAME}:exe:e2e:tick {
  where arg1 % 2 == 0
  seq = arg0
  n = arg1 as i32
  first = str(arg2)
  second = str(arg3, 32)
}

usdt docker/${NAME}:exe:e2e:guarded {
  round = arg0
}
`;
  const plan = await compilePlan("usdt", source, { docker: { host: env.host } });
  expect(plan.probes.map((p) => [p.id, p.binary.containerPath, p.points.length])).toEqual([
    ["probe1", "/app/usdt_app", 1],
    ["probe2", "/app/usdt_app", 1],
  ]);
  const guarded = plan.probes[1]!.points[0]!;
  expect(guarded.refCtrOffset, "e2e:guarded has a semaphore").toBeTypeOf("number");

  // Before attach: the program sees its semaphore at 0, and skips the guarded probe.
  expect(await app.round()).toEqual([`round 1 sema 0 ticks ${TICKS}`]);

  const trace = await Trace.start(plan);
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 2, failed: 0, points: 2 });
    // Attached: the kernel raised the semaphore (once: one probe on that site).
    expect(await app.round()).toEqual([`round 2 sema 1 ticks ${TICKS}`]);
    await trace.waitForEvents("probe2", 1);
    await trace.waitForEvents("probe1", TICKS / 2);
  } finally {
    await trace.close();
  }

  const even = [...Array(TICKS).keys()].filter((i) => (i - 5) % 2 === 0);
  expect(even).toEqual([1, 3, 5, 7, 9]);
  expect(trace.of("probe1").map((e) => e.fields)).toEqual(
    even.map((i) => ({ seq: BigInt(i), n: BigInt(i - 5), first: `first-${i}`, second: `second-${i}-${i - 5}` })),
  );
  for (const e of trace.of("probe1")) expect(e).toMatchObject({ pid: app.pid, comm: "usdt_app", container: NAME, side: "entry" });
  expect(trace.of("probe2").map((e) => e.fields)).toEqual([{ round: 2n }]);

  // Detached: back to 0, and the guarded probe is skipped again.
  expect(await app.round()).toEqual([`round 3 sema 0 ticks ${TICKS}`]);
});
