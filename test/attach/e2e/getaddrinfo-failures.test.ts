/**
 * Issue 5, end-to-end test 4: failed `getaddrinfo` in a container whose
 * resolver points at a loopback address that refuses: host name, non-zero
 * return, latency.
 *
 * Container probec-attach-gai runs with `--network none --dns 127.0.0.1`
 * (its /etc/resolv.conf: `nameserver 127.0.0.1`, where nothing listens, so
 * each query is refused at once). gai_app calls getaddrinfo(HOST) CALLS
 * times per round and reports each call's return value and its start and
 * end on CLOCK_MONOTONIC, the clock of the events' timestamps. The probe is
 * examples/getaddrinfo-failures.probe aimed at that container. Each event
 * must match its call: same host, same return value, a latency no longer
 * than the call as the program timed it, and a timestamp inside it.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const NAME = "probec-attach-gai";
const HOST = "db.probec-e2e.test";
const CALLS = 5;
const targets = new Targets();
let env: E2e;
let app: Target;

beforeAll(async () => {
  env = await e2eSetup();
  app = await targets.container(env.image, NAME, "gai_app", [HOST, String(CALLS)], ["--dns", "127.0.0.1"]);
}, 120_000);

afterAll(() => targets.cleanup());

test("uprobe+ret on the container's getaddrinfo: host, rc != 0 and latency of every failed call", async () => {
  expect(readFileSync(`/proc/${app.pid}/root/etc/resolv.conf`, "utf8")).toMatch(/^nameserver 127\.0\.0\.1$/m);
  const example = readFileSync(new URL("../../../examples/getaddrinfo-failures.probe", import.meta.url), "utf8");
  const source = example.replace("let web = docker/web", `let web = docker/${NAME}`);
  expect(source).toContain(`docker/${NAME}`);
  const plan = await compilePlan("getaddrinfo-failures", source, { docker: { host: env.host } });
  expect(plan.probes).toHaveLength(1);
  expect(plan.probes[0]!.points.map((p) => p.side)).toEqual(["entry", "return"]);

  const trace = await Trace.start(plan);
  let lines: string[];
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 2 });
    lines = await app.round();
    await trace.waitForEvents("probe1", CALLS);
  } finally {
    await trace.close();
  }
  const calls = lines.slice(0, -1).map((line) => {
    const m = /^call (\d+) rc (-?\d+) start (\d+) end (\d+)$/.exec(line);
    expect(m, line).not.toBeNull();
    return { rc: BigInt(m![2]!), start: BigInt(m![3]!), end: BigInt(m![4]!) };
  });
  expect(calls).toHaveLength(CALLS);
  expect(
    calls.every((c) => c.rc !== 0n),
    "every lookup failed",
  ).toBe(true);

  const events = trace.of("probe1");
  expect(events).toHaveLength(CALLS);
  events.forEach((e, i) => {
    const call = calls[i]!;
    expect(e).toMatchObject({ side: "return", pid: app.pid, comm: "gai_app", container: NAME });
    expect(e.fields.host).toBe(HOST);
    expect(e.fields.rc).toBe(call.rc);
    expect(e.fields.container).toBe(NAME);
    const latency = e.fields.latency as bigint;
    expect(latency).toBe(e.latency);
    expect(latency).toBeGreaterThan(0n);
    expect(latency).toBeLessThanOrEqual(call.end - call.start);
    expect(e.timestamp).toBeGreaterThanOrEqual(call.start);
    expect(e.timestamp).toBeLessThanOrEqual(call.end);
  });
});
