/**
 * Semaphores are raised only in the processes that match (issue 14,
 * native/PROTOCOL.md "Semaphores"), on this kernel, with real containers.
 *
 * Containers A and B run usdt_app from one image, so /app/usdt_app is one
 * inode of one image layer underneath both; a host process runs the same
 * file (through A's root: overlayfs maps the layer's file). usdt_app
 * reports, each round, its e2e:guarded semaphore as it reads it, and fires
 * e2e:guarded only when that is up. A probe on e2e:guarded filtered to
 * container A (a container filter) must raise the semaphore in A's
 * processes only: B and the host process keep 0, so they never run the
 * probe's argument-building code. A process exec'd into A later gets its
 * semaphore raised once the attacher has read its exec record, and is
 * counted from then on; when it exits, its links go. After `filter remove`,
 * `remove` or detach every semaphore is 0 again and no link is left.
 *
 * Both ways a container filter reaches the attacher are tested: the
 * initial plan (`probec run docker/A:…`), and an entry added to a
 * following session whose namespaces `filter` changes (what --follow does
 * with a selector's containers of one image). Modes multi and pmu; legacy
 * keeps one tracefs event for every process (PROTOCOL.md says so). The
 * process watch needs no capability beyond the DaemonSet's
 * (deploy/kubernetes/README.md): the helper runs with exactly those once.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachFollowing } from "../../src/attach/attach.js";
import type { AttachPlan, ProbeEvent } from "../../src/index.js";
import { e2eSetup, type E2e } from "./e2e/support/setup.js";
import { expectedRounds, raisedRounds, readRound, roundSemaphore, untilFiring } from "./e2e/support/semaphore.js";
import { Targets, until, type Target } from "./e2e/support/targets.js";
import { compilePlan, Trace } from "./e2e/support/trace.js";
import { attacherPids } from "../support/line-program.js";

const A = "probec-sema-a";
const B = "probec-sema-b";
const TICKS = "2";
const targets = new Targets();
let env: E2e;
let a: Target;
let b: Target;
let host: Target;

beforeAll(async () => {
  env = await e2eSetup();
  a = await targets.container(env.image, A, "usdt_app", [TICKS]);
  b = await targets.container(env.image, B, "usdt_app", [TICKS]);
  // The same file, run by a host process: overlayfs maps the layer's inode, which is what uprobes key on.
  host = await targets.host(`/proc/${a.pid}/root/app/usdt_app`, [TICKS]);
}, 120_000);

afterAll(() => targets.cleanup());

function onlyHelper(): number {
  const pids = attacherPids();
  expect(pids).toHaveLength(1);
  return pids[0] as number;
}

/** What the helper holds of the kernel: uprobe_multi links and perf events (PMU uprobes). */
function held(pid: number): { multi: number; perf: number } {
  let multi = 0;
  let perf = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === "anon_inode:[perf_event]") perf++;
      else if (/^link_type:\s+u(?:ret)?probe_multi$/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))) multi++;
    } catch {
      // Closed meanwhile.
    }
  }
  return { multi, perf };
}

/** The tracepoint links of the process watch the helper holds (sched_process_fork and sched_process_exec, tp_btf). */
function watchLinks(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (/^link_type:\s+(?:raw_tracepoint|tracing)$/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))) n++;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

/** The kernel objects one attachment per linked process adds in `mode` (one point: one link, or one perf event). */
const count = (mode: "multi" | "pmu", n: number) => (mode === "multi" ? { multi: n, perf: 0 } : { multi: 0, perf: n });

const mntns = (pid: number) => statSync(`/proc/${pid}/ns/mnt`).ino;

const SOURCE = `usdt docker/${A}:exe:e2e:guarded {\n  round = arg0\n}\n`;

const HELPER = join(import.meta.dirname, "..", "..", "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");
/** The capabilities the DaemonSet adds (deploy/kubernetes/daemonset.yaml), as setpriv names them. */
const DAEMONSET_CAPS = ["bpf", "perfmon", "sys_ptrace", "dac_read_search", "checkpoint_restore"];

describe("a container-filtered USDT probe raises its semaphore only in the container's processes", () => {
  it("the three processes map one inode: a probe without a filter raises all three", async () => {
    const plan = await compilePlan("sema-control", SOURCE, { docker: { host: env.host } });
    const trace = await Trace.start({ ...plan, probes: plan.probes.map((p) => ({ ...p, filter: null })) }, "multi");
    try {
      expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 1, 1]);
    } finally {
      await trace.close();
    }
    expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0, 0]);
  });

  it("with only the DaemonSet's capabilities (no SYS_ADMIN), the process watch loads and attaches: A's semaphore only", async () => {
    const plan = await compilePlan("sema-caps", SOURCE, { docker: { host: env.host } });
    // setpriv: root with a bounding set of exactly these, as the DaemonSet's container runs.
    const helper = spawn("setpriv", ["--bounding-set", `-all,${DAEMONSET_CAPS.map((c) => `+${c}`).join(",")}`, HELPER, "--mode", "multi"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const statuses: { type: string; [key: string]: unknown }[] = [];
    let pending = Buffer.alloc(0);
    helper.stdout.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32LE(0)) {
        const length = pending.readUInt32LE(0);
        if (pending.readUInt32LE(4) === 2) statuses.push(JSON.parse(pending.subarray(8, 8 + length).toString("utf8")));
        pending = pending.subarray(8 + length);
      }
    });
    const exited = once(helper, "exit");
    helper.stdin.end(JSON.stringify(plan));
    try {
      await until("ready", () => statuses.some((s) => s.type === "ready" || s.type === "error"));
      expect(statuses.find((s) => s.type === "ready" || s.type === "error")).toEqual({ type: "ready", attached: 1, failed: 0, points: 1 });
      expect(readFileSync(`/proc/${helper.pid}/status`, "utf8")).toMatch(/^CapEff:\s+000001c000080004$/m);
      expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 0, 0]);
    } finally {
      helper.kill("SIGTERM");
      await exited;
    }
    expect(statuses.at(-1)).toEqual({ type: "detached", reason: "SIGTERM" });
    expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0, 0]);
  });

  it("SIGKILL of the helper: its reaper child dies with it, and no semaphore stays up", async () => {
    const plan = await compilePlan("sema-kill", SOURCE, { docker: { host: env.host } });
    const helper = spawn(HELPER, ["--mode", "multi"], { stdio: ["pipe", "pipe", "inherit"] });
    let output = "";
    helper.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("latin1")));
    const exited = once(helper, "exit");
    helper.stdin.end(JSON.stringify(plan));
    await until("ready", () => output.includes('"type":"ready"'));
    const reapers = readFileSync(`/proc/${helper.pid}/task/${helper.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
    expect(reapers.map((r) => readFileSync(`/proc/${r}/comm`, "utf8").trim())).toEqual(["probec-reaper"]);
    expect([await roundSemaphore(a), await roundSemaphore(b)]).toEqual([1, 0]);
    helper.kill("SIGKILL");
    await exited;
    await until("the reaper to die with the helper", () => {
      try {
        return !readFileSync(`/proc/${reapers[0]}/stat`, "utf8").includes("probec-reaper");
      } catch {
        return true;
      }
    });
    // The kernel releases a dead process's files after it has exited (delayed fput): rounds until A's is down.
    for (let i = 0; i < 500 && (await roundSemaphore(a)) !== 0; i++);
    expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0, 0]);
  });

  for (const mode of ["multi", "pmu"] as const) {
    it(`--mode ${mode}, initial plan: A's processes only, a process exec'd into A later too, each one's hits exactly`, async () => {
      const plan = await compilePlan(`sema-plan-${mode}`, SOURCE, { docker: { host: env.host } });
      expect(plan.probes[0]!.filter).toMatchObject({ kind: "container" });
      expect(plan.probes[0]!.points[0]!.refCtrOffset).toBeTypeOf("number");
      const from = [a, b, host].map((t) => t.status.lines().length);
      const trace = await Trace.start(plan, mode);
      let a2: Target | undefined;
      let missed: bigint[] = [];
      try {
        expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
        const helper = onlyHelper();
        // The check made with the helper's own pid, and A's one process.
        expect(held(helper)).toEqual(count(mode, 2));
        expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 0, 0]);

        a2 = await targets.exec(a, "usdt_app", `status-${mode}`, [TICKS]);
        const later = a2;
        missed = await untilFiring(
          () => readRound(later),
          (round) => trace.of("probe1").some((e) => e.pid === later.pid && e.fields.round === round),
        );
        expect(await roundSemaphore(a2)).toBe(1);
        expect(held(helper)).toEqual(count(mode, 3));
        expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 0, 0]);
        const expected = raisedRounds(a, from[0]).length + raisedRounds(a2).length - missed.length;
        await trace.waitForEvents("probe1", expected);

        // The later process exits: its link goes with it.
        process.kill(a2.pid, "SIGTERM");
        await until("the exited process's link to be closed", () => held(helper).multi + held(helper).perf === 2);
      } finally {
        await trace.close();
      }
      const events = trace.of("probe1");
      const rounds = (t: Target) => events.filter((e) => e.pid === t.pid).map((e) => e.fields.round);
      expect(rounds(a)).toEqual(raisedRounds(a, from[0]));
      expect(rounds(a2!)).toEqual(expectedRounds(raisedRounds(a2!), missed, rounds(a2!)));
      expect(events).toHaveLength(rounds(a).length + rounds(a2!).length);
      expect(attacherPids()).toEqual([]);
      expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0, 0]);
      expect(raisedRounds(b, from[1])).toEqual([]);
      expect(raisedRounds(host, from[2])).toEqual([]);
    });

    it(`--mode ${mode}, following: an added entry, then filter add / remove of B; remove leaves no link, no tracepoint and every semaphore 0; added again, raised again`, async () => {
      const plan = await compilePlan(`sema-follow-${mode}`, SOURCE, { docker: { host: env.host } });
      const from = [a, b, host].map((t) => t.status.lines().length);
      const session = attachFollowing({ ...plan, probes: [] } as AttachPlan, { mode });
      const events: ProbeEvent[] = [];
      const consumed = (async () => {
        for await (const e of session) events.push(e);
      })();
      let a2: Target | undefined;
      let missed: bigint[] = [];
      try {
        await session.ready;
        const helper = onlyHelper();
        const idle = held(helper);
        // Nothing of the process watch before an entry needs it.
        expect(watchLinks(helper)).toBe(0);
        // One entry that serves the image's containers (target.containers), as --follow adds it for a selector.
        const shared = plan.probes.map((p) => ({
          ...p,
          target: { ...p.target, containers: [{ mntNs: mntns(a.pid), containerId: a.containerId!, containerName: A }] },
        }));
        const added = await session.addProbes(shared);
        expect(added).toMatchObject({ entries: [0], points: 1, failed: [] });
        expect(held(helper)).toEqual({ multi: idle.multi + count(mode, 2).multi, perf: idle.perf + count(mode, 2).perf });
        expect(watchLinks(helper)).toBe(2);
        expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 0, 0]);

        // B joins the entry (a selector's second container of the image): its semaphore goes up, the host's stays down.
        await session.filterEntry(0, [{ mntNs: mntns(b.pid), containerId: b.containerId!, containerName: B }], []);
        expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 1, 0]);
        await session.filterEntry(0, [], [mntns(b.pid)]);
        expect([await roundSemaphore(a), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 0, 0]);

        a2 = await targets.exec(a, "usdt_app", `status-follow-${mode}`, [TICKS]);
        const later = a2;
        missed = await untilFiring(
          () => readRound(later),
          (round) => events.some((e) => e.pid === later.pid && e.fields.round === round),
        );
        expect([await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0]);

        await session.removeEntries([0]);
        expect(held(helper)).toEqual(idle);
        // No namespace is watched any more: the tracepoints are detached (no fork or exec of the machine runs them).
        expect(watchLinks(helper)).toBe(0);
        expect([await roundSemaphore(a), await roundSemaphore(a2), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0, 0, 0]);
        // Added again: the watch is attached again, and A's processes (both) get the semaphore back.
        const again = await session.addProbes(shared);
        expect(watchLinks(helper)).toBe(2);
        expect([await roundSemaphore(a), await roundSemaphore(a2), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([1, 1, 0, 0]);
        await session.removeEntries(again.entries);
        expect(watchLinks(helper)).toBe(0);
        expect(readFileSync("/sys/kernel/tracing/uprobe_events", "utf8")).not.toContain(`probec/pc_${helper}_`);
        expect([await roundSemaphore(a), await roundSemaphore(a2), await roundSemaphore(b), await roundSemaphore(host)]).toEqual([0, 0, 0, 0]);
        process.kill(a2.pid, "SIGTERM");
      } finally {
        await session.close();
        await consumed;
      }
      const rounds = (t: Target) => events.filter((e) => e.pid === t.pid).map((e) => e.fields.round);
      expect(rounds(a)).toEqual(raisedRounds(a, from[0]));
      expect(rounds(b)).toEqual(raisedRounds(b, from[1]));
      expect(rounds(b)).toHaveLength(1);
      expect(rounds(a2!)).toEqual(expectedRounds(raisedRounds(a2!), missed, rounds(a2!)));
      expect(events).toHaveLength(rounds(a).length + rounds(b).length + rounds(a2!).length);
      expect(raisedRounds(host, from[2])).toEqual([]);
    });
  }
});
