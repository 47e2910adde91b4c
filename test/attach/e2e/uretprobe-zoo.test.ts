/**
 * Issue 5, end-to-end test 1 (the seed case): a `uretprobe` on a function
 * of a shared library inside a Docker container prints its return values.
 *
 * Container probec-attach-zoo runs zoo_app, which calls libzoo.so's
 * zoo_set2 (returning -4) CALLS times per round. Through attach() the test
 * sees exactly CALLS return events with rc == -4, from that container's
 * process; through `probec trace --json` (in-process) exactly as many JSON
 * lines with the same values.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import type { ProbeEvent } from "../../../src/index.js";
import { StringSink } from "../../../src/cli/io.js";
import { run } from "../../../src/cli/run.js";
import { e2eSetup, type E2e } from "./support/setup.js";
import { sleep, Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-zoo";
const CALLS = 25;
const targets = new Targets();
let env: E2e;
let zoo: Target;

beforeAll(async () => {
  env = await e2eSetup();
  zoo = await targets.container(env.image, NAME, "zoo_app", [String(CALLS)]);
}, 120_000);

afterAll(() => targets.cleanup());

test("attach(): CALLS return events of zoo_set2 with rc == -4, from the container's process", async () => {
  const plan = await compilePlan("zoo", `uretprobe docker/${NAME}:libzoo:zoo_set2 {\n  rc = retval as i32\n}\n`, { docker: { host: env.host } });
  expect(plan.probes).toHaveLength(1);
  const entry = plan.probes[0]!;
  expect(entry.binary.containerPath).toBe("/usr/lib/libzoo.so");
  expect(entry.filter?.kind).toBe("container");
  expect(entry.points.map((p) => p.side)).toEqual(["return"]);

  const trace = await Trace.start(plan);
  let events: ProbeEvent[];
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
    expect(await zoo.round()).toEqual([`round 1 calls ${CALLS} rc -4`]);
    events = await trace.waitForEvents("probe1", CALLS);
  } finally {
    const summary = await trace.close();
    expect(summary.probes).toEqual([{ id: "probe1", hits: trace.events.length, lost: 0, attached: 1, failed: 0 }]);
  }
  expect(events).toHaveLength(CALLS);
  for (const e of events) {
    expect(e).toMatchObject({
      probeId: "probe1",
      entry: 0,
      cookie: entry.points[0]!.cookie,
      side: "return",
      pid: zoo.pid,
      tid: zoo.pid,
      comm: "zoo_app",
      container: NAME,
      latency: null,
    });
    expect(e.fields).toEqual({ rc: -4n });
    // eax = -4, zero-extended into rax by the 32-bit mov.
    expect(BigInt.asUintN(32, e.retval!)).toBe(0xfffffffcn);
  }
  // In firing order.
  const times = events.map((e) => e.timestamp);
  expect([...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(times);
});

test("probec trace --json prints one line per call, rc -4, container and pid", async () => {
  const stdout = new StringSink();
  const stderr = new StringSink();
  // The CLI finds dockerd as probec's library does, through DOCKER_HOST in the process environment.
  const old = process.env["DOCKER_HOST"];
  process.env["DOCKER_HOST"] = env.host;
  let code: number;
  try {
    const done = run(
      ["trace", `uretprobe docker/${NAME}:libzoo:zoo_set2 { rc = retval as i32 }`, "--json", "--count", String(CALLS)],
      { stdout, stderr },
      { DOCKER_HOST: env.host },
    );
    let finished = false;
    void done.finally(() => (finished = true));
    // Run a round only once the CLI says it attached (its status lines go to stderr).
    for (let i = 0; !finished && !/attached/i.test(stderr.text); i++) {
      if (i > 500) throw new Error(`probec trace did not report attaching within 10 s; stderr:\n${stderr.text}`);
      await sleep(20);
    }
    await zoo.round();
    code = await done;
  } finally {
    if (old === undefined) delete process.env["DOCKER_HOST"];
    else process.env["DOCKER_HOST"] = old;
  }
  expect(code, stderr.text).toBe(0);
  const lines = stdout.text.trimEnd().split("\n");
  expect(lines).toHaveLength(CALLS);
  for (const line of lines) {
    const event = JSON.parse(line) as Record<string, unknown>;
    expect(event).toMatchObject({ probe: "probe1", pid: zoo.pid, tid: zoo.pid, comm: "zoo_app", container: NAME, rc: -4 });
  }
});
