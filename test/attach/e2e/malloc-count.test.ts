/**
 * Issue 5, end-to-end test 2: `malloc` in the container's libc, by
 * container process (`pid/<host pid>:libc:malloc`): the count matches what
 * the program did.
 *
 * malloc_app (in container probec-attach-malloc) does exactly MALLOCS
 * mallocs of 12345 bytes per round, and nothing else of that size. Two
 * probes on the same function in one plan: probe1 filters in the kernel on
 * `arg0 == 12345` and must see exactly MALLOCS events, every one with size
 * 12345; probe2 has no filter and must see at least MALLOCS (stdio
 * allocates too), and the 12345-byte ones among them exactly MALLOCS. Every
 * event is from the target process, whatever else in the machine calls
 * malloc in the same libc file (the image's libc is a copy of the host's).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-malloc";
const MALLOCS = 40;
const targets = new Targets();
let env: E2e;
let app: Target;

beforeAll(async () => {
  env = await e2eSetup();
  app = await targets.container(env.image, NAME, "malloc_app", [String(MALLOCS)]);
}, 120_000);

afterAll(() => targets.cleanup());

test("pid/<host pid>:libc:malloc counts exactly the program's 12345-byte mallocs", async () => {
  // probe1: only the program's own size, filtered in the kernel; probe2: every call.
  const source = `uprobe pid/${app.pid}:libc:malloc {
  where arg0 == 12345
  size = arg0
}

uprobe pid/${app.pid}:libc:malloc {
  size = arg0
}
`;
  const plan = await compilePlan("malloc", source, { docker: { host: env.host } });
  expect(plan.probes.map((p) => [p.id, p.binary.containerPath, p.target.containerId, p.target.processes.map((q) => q.pid)])).toEqual([
    ["probe1", "/lib/x86_64-linux-gnu/libc.so.6", app.containerId, [app.pid]],
    ["probe2", "/lib/x86_64-linux-gnu/libc.so.6", app.containerId, [app.pid]],
  ]);

  const trace = await Trace.start(plan);
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 2, failed: 0, points: 2 });
    expect(await app.round()).toEqual([`round 1 mallocs ${MALLOCS} size 12345`]);
    await trace.waitForEvents("probe1", MALLOCS, { settleMs: 500 });
  } finally {
    await trace.close();
  }
  const sized = trace.of("probe1");
  expect(sized).toHaveLength(MALLOCS);
  for (const e of sized) expect(e).toMatchObject({ pid: app.pid, comm: "malloc_app", side: "entry", fields: { size: 12345n } });

  const all = trace.of("probe2");
  expect(all.length).toBeGreaterThanOrEqual(MALLOCS);
  expect(all.every((e) => e.pid === app.pid)).toBe(true);
  expect(all.filter((e) => e.fields.size === 12345n)).toHaveLength(MALLOCS);
});
