/**
 * Issue 5, end-to-end test 8 (PITFALLS 18): a binary replaced on disk while
 * running: the running code is probed.
 *
 * worker (v1: work(i) = 100 + i) runs; then worker-v2 (work(i) = 500 + i,
 * at another offset) is renamed over its file, as a package upgrade does.
 * The path now names v2, which nothing runs; the process still executes
 * v1, reachable only through its mappings. The compiler refuses the `fd`
 * strategy for it and names `map`; with `map` every call of the running v1
 * is one event with 100 + i. Done twice: inside a container (the rename
 * goes through /proc/<pid>/root, so the container's overlay takes it) and
 * on the host (where the old inode is gone from every directory).
 */
import { copyFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { compile, findSymbol } from "../../../src/index.js";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-replaced";
const CALLS = 7;
const targets = new Targets();
let env: E2e;

beforeAll(async () => {
  env = await e2eSetup();
}, 120_000);

afterAll(() => targets.cleanup());

/** Replaces `running` (the process's file, as seen from the host) with worker-v2 by a rename over it, then checks the probe fires in v1. */
async function probesRunningCode(app: Target, scope: string, running: string): Promise<void> {
  const v1 = await findSymbol(env.fixtures.path("worker"), "work");
  const v2 = await findSymbol(env.fixtures.path("worker-v2"), "work");
  expect(v2.fileOffset).not.toBe(v1.fileOffset);
  copyFileSync(env.fixtures.path("worker-v2"), `${running}.new`);
  renameSync(`${running}.new`, running);
  expect((await findSymbol(running, "work")).fileOffset).toBe(v2.fileOffset);

  const source = `uretprobe ${scope}:exe:work {\n  v = retval as i32\n}\n`;
  // The default (fd) would open the path, which is v2 now: refused, naming the strategy that works.
  const refused = await compile(source, { file: "replaced.probe", docker: { host: env.host } });
  expect(refused.plan).toBeUndefined();
  expect(refused.diagnostics.map((d) => [d.message, d.hints])).toEqual([
    [
      expect.stringContaining("the fd path strategy is not available: the file at that path is not the one the process runs"),
      [expect.stringMatching(/^use --strategy (\w+ or )*map$/)],
    ],
  ]);

  const plan = await compilePlan("replaced", source, { docker: { host: env.host }, strategy: "map" });
  const entry = plan.probes[0]!;
  expect(entry.binary.replaced).toBe(true);
  expect(entry.binary.kernelPath).toMatch(new RegExp(`^/proc/${app.pid}/(map_files/[0-9a-f]+-[0-9a-f]+|exe)$`));
  expect(entry.points.map((p) => p.fileOffset)).toEqual([v1.fileOffset]);

  const trace = await Trace.start(plan);
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
    const [line] = await app.round();
    expect(line).toBe(`round 1 calls ${CALLS} last ${100 + CALLS - 1}`);
    await trace.waitForEvents("probe1", CALLS);
  } finally {
    await trace.close();
  }
  expect(trace.of("probe1").map((e) => e.fields.v)).toEqual([...Array(CALLS).keys()].map((i) => BigInt(100 + i)));
  for (const e of trace.of("probe1")) expect(e).toMatchObject({ pid: app.pid, comm: "worker" });
}

test("in a container: worker-v2 renamed over /app/worker; the running v1 is probed", async () => {
  const app = await targets.container(env.image, NAME, "worker", [String(CALLS)]);
  await probesRunningCode(app, `docker/${NAME}`, `/proc/${app.pid}/root/app/worker`);
});

test("on the host: worker-v2 renamed over the running worker; the running v1 is probed", async () => {
  const dir = targets.statusDir();
  const file = join(dir, "worker");
  copyFileSync(env.fixtures.path("worker"), file);
  const app = await targets.host(file, [String(CALLS)]);
  await probesRunningCode(app, `pid/${app.pid}`, file);
});
