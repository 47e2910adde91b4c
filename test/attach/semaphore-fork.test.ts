/**
 * A process forked (without exec) inside a container-filtered entry's
 * mount namespace (native/PROTOCOL.md, "Semaphores"): its memory is a copy
 * of its parent's, semaphore and breakpoint included, but the parent's
 * link (with the parent's pid) does not run the BPF program for it. The
 * process watch reports the fork and the attacher links the child; from
 * then on its hits are counted exactly, and when it exits its link goes.
 *
 * A linked process that execs again keeps its links: from its leader, the
 * links name the same task, whose memory is the new image's; from another
 * thread, which takes over the pid, the links named the old leader, and
 * the exec record makes the attacher link it again.
 *
 * A process filter (`pid/N`) in the initial plan: its points with a
 * semaphore are attached once per pid, so the semaphore is raised in that
 * process only, not in a sibling running the same file.
 *
 * The namespace is made with `unshare -m` (a container's mount namespace
 * without a container: the fork is the program's own, which the fixture
 * images' programs do not do); a sibling running the same file in the
 * host's namespace keeps its semaphore at 0 throughout.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import type { AttachPlan } from "../../src/index.js";
import { FIXTURE_SOURCES } from "./e2e/support/fixtures.js";
import { expectedRounds, type Round, untilFiring } from "./e2e/support/semaphore.js";
import { sleep, until } from "./e2e/support/targets.js";
import { Trace } from "./e2e/support/trace.js";
import { attacherPids } from "../support/line-program.js";

/**
 * SIGUSR1: a round (reads the semaphore, fires forky:guarded when it is
 * up); SIGUSR2: fork a child that does the same; SIGHUP: exec itself again
 * (the thread-group leader execs); SIGWINCH: a second thread execs it (and
 * takes over the pid); SIGURG: fork 200 children at once.
 */
const PROGRAM = `
#define _SDT_HAS_SEMAPHORES 1
#include <pthread.h>
#include <sys/sdt.h>
#include <unistd.h>
#include "fixture.h"

unsigned short forky_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

static char **args;

static void *exec_again(void *unused)
{
	(void)unused;
	execv("/proc/self/exe", args);
	return NULL;
}

int main(int argc, char **argv)
{
	sigset_t set;
	pthread_t thread;
	int sig, round = 0;
	args = argv;
	fixture_start(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGURG);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	report("ready %d", (int)getpid());
	while (sigwait(&set, &sig) == 0 && sig != SIGTERM) {
		if (sig == SIGUSR2) {
			if (fork() == 0)
				report("child %d", (int)getpid());
			continue;
		}
		for (int i = 0; sig == SIGURG && i < 200; i++)
			if (fork() == 0) {
				report("child %d", (int)getpid());
				break;
			}
		if (sig == SIGHUP)
			execv("/proc/self/exe", argv);
		if (sig == SIGWINCH)
			pthread_create(&thread, NULL, exec_again, NULL);
		if (sig != SIGUSR1)
			continue;
		round++;
		unsigned short sema = *(volatile unsigned short *)&forky_guarded_semaphore;
		if (sema)
			STAP_PROBE1(forky, guarded, round);
		report("pid %d round %d sema %u", (int)getpid(), round, sema);
	}
	return 0;
}
`;

let dir: string;
let program: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "probec-forky-"));
  writeFileSync(join(dir, "forky.c"), PROGRAM);
  program = join(dir, "forky");
  execFileSync("gcc", ["-O2", "-pthread", "-I", FIXTURE_SOURCES, "-o", program, join(dir, "forky.c")]);
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** One forky process (and the children it forks), writing to its own status file. */
class Forky {
  readonly status: string;
  readonly child: ChildProcess;

  constructor(name: string, ownMountNs: boolean) {
    this.status = join(dir, `${name}.status`);
    this.child = ownMountNs
      ? spawn("unshare", ["-m", "--propagation", "private", program, this.status], { stdio: "ignore" })
      : spawn(program, [this.status], { stdio: "ignore" });
    children.push(this.child);
  }

  /** unshare execs the program: the pid is the program's. */
  get pid(): number {
    return this.child.pid as number;
  }

  lines(): string[] {
    return existsSync(this.status)
      ? readFileSync(this.status, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
  }

  async waitFor(re: RegExp, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      for (const line of this.lines().slice(from)) {
        const m = re.exec(line);
        if (m !== null) return m;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in ${this.status}: ${this.lines().join("\n")}`);
      await sleep(20);
    }
  }

  async ready(from = 0): Promise<void> {
    await this.waitFor(new RegExp(`^ready ${this.pid}$`), from);
  }

  /** Makes the process exec itself again, from its main thread (SIGHUP) or another one (SIGWINCH); resolves when the new image is ready. */
  async execAgain(signal: "SIGHUP" | "SIGWINCH"): Promise<void> {
    const from = this.lines().length;
    process.kill(this.pid, signal);
    await this.ready(from);
  }

  /** Forks a child; returns its pid once it said so. */
  async fork(): Promise<number> {
    const from = this.lines().length;
    process.kill(this.pid, "SIGUSR2");
    return Number((await this.waitFor(/^child (\d+)$/, from))[1]);
  }

  /** One round of process `pid` (this one or a child); returns the semaphore it read. */
  async round(pid = this.pid): Promise<number> {
    return (await this.runRound(pid)).sema;
  }

  /** The same, as a {@link Round}. */
  async readRound(pid = this.pid): Promise<Round> {
    const { round, sema } = await this.runRound(pid);
    return { round, raised: sema !== 0 };
  }

  private async runRound(pid: number): Promise<{ round: bigint; sema: number }> {
    const from = this.lines().length;
    process.kill(pid, "SIGUSR1");
    const m = await this.waitFor(new RegExp(`^pid ${pid} round (\\d+) sema (\\d+)$`), from);
    return { round: BigInt(m[1] as string), sema: Number(m[2]) };
  }

  /** The rounds in which process `pid` read its semaphore up: the rounds forky:guarded fired in. */
  raised(pid: number): bigint[] {
    return this.lines()
      .map((l) => new RegExp(`^pid ${pid} round (\\d+) sema [1-9]`).exec(l)?.[1])
      .filter((r) => r !== undefined)
      .map(BigInt);
  }
}

function onlyHelper(): number {
  const pids = attacherPids();
  expect(pids).toHaveLength(1);
  return pids[0] as number;
}

/** uprobe_multi links and perf events the helper holds. */
function held(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === "anon_inode:[perf_event]") n++;
      else if (/^link_type:\s+u(?:ret)?probe_multi$/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))) n++;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

describe("processes that fork or exec again in a container-filtered entry's namespace", () => {
  for (const mode of ["multi", "pmu"] as const) {
    it(`--mode ${mode}: a forked process is linked once the attacher reads its fork, counted exactly from then on, unlinked when it exits`, async () => {
      const inside = new Forky(`inside-${mode}`, true);
      const sibling = new Forky(`sibling-${mode}`, false);
      await Promise.all([inside.ready(), sibling.ready()]);
      const ns = statSync(`/proc/${inside.pid}/ns/mnt`).ino;
      expect(ns).not.toBe(statSync(`/proc/${sibling.pid}/ns/mnt`).ino);
      const { plan, diagnostics } = await compile(`usdt pid/${inside.pid}:exe:forky:guarded {\n  round = arg0\n}\n`, { file: "forky.probe" });
      expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const probe = (plan as AttachPlan).probes[0]!;
      expect(probe.points[0]!.refCtrOffset).toBeTypeOf("number");
      // A container filter on the namespace, as a container's plan has it.
      const entry = {
        ...probe,
        target: { ...probe.target, mntNs: ns },
        filter: { kind: "container" as const, containerId: "0".repeat(64), cgroupPaths: [], pids: [] },
      };
      const trace = await Trace.start({ ...(plan as AttachPlan), probes: [entry] }, mode);
      let child = 0;
      let missed: bigint[] = [];
      try {
        const helper = onlyHelper();
        expect(held(helper)).toBe(2); // the check with the helper's own pid, and the process inside
        expect([await inside.round(), await sibling.round()]).toEqual([1, 0]);

        child = await inside.fork();
        // Its memory is a copy of its parent's: the semaphore reads 1 already; its hits count once its own link is there.
        await until("the forked child's link", () => held(helper) === 3);
        const forked = child;
        missed = await untilFiring(
          () => inside.readRound(forked),
          (round) => roundsOf(trace, forked).includes(round),
        );
        expect([await inside.round(child), await inside.round(child), await inside.round(), await sibling.round()]).toEqual([1, 1, 1, 0]);
        await trace.waitForEvents("probe1", inside.raised(inside.pid).length + inside.raised(child).length - missed.length);

        process.kill(child, "SIGTERM");
        await until("the exited child's link to be closed", () => held(helper) === 2);
      } finally {
        await trace.close();
      }
      expect(roundsOf(trace, inside.pid)).toEqual(inside.raised(inside.pid));
      expect(roundsOf(trace, child)).toEqual(expectedRounds(inside.raised(child), missed, roundsOf(trace, child)));
      expect(roundsOf(trace, child).length).toBeGreaterThanOrEqual(3);
      expect(trace.of("probe1")).toHaveLength(roundsOf(trace, inside.pid).length + roundsOf(trace, child).length);
      expect([await inside.round(), await sibling.round()]).toEqual([0, 0]);
      expect(sibling.raised(sibling.pid)).toEqual([]);
    });
  }

  for (const mode of ["multi", "pmu"] as const) {
    it(`--mode ${mode}: a linked process that execs again, from its leader or from another thread, keeps its semaphore and its hits`, async () => {
      const inside = new Forky(`exec-${mode}`, true);
      await inside.ready();
      const ns = statSync(`/proc/${inside.pid}/ns/mnt`).ino;
      const { plan, diagnostics } = await compile(`usdt pid/${inside.pid}:exe:forky:guarded {\n  round = arg0\n}\n`, { file: "forky.probe" });
      expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const probe = (plan as AttachPlan).probes[0]!;
      const entry = {
        ...probe,
        target: { ...probe.target, mntNs: ns },
        filter: { kind: "container" as const, containerId: "0".repeat(64), cgroupPaths: [], pids: [] },
      };
      const trace = await Trace.start({ ...(plan as AttachPlan), probes: [entry] }, mode);
      const missed: bigint[] = [];
      const untilFired = async () => {
        missed.push(
          ...(await untilFiring(
            () => inside.readRound(),
            (round) => roundsOf(trace, inside.pid).includes(round),
          )),
        );
      };
      try {
        const helper = onlyHelper();
        expect(await inside.round()).toBe(1);
        // The leader execs: the links name its task, whose memory is now the new image's.
        await inside.execAgain("SIGHUP");
        await untilFired();
        // Another thread execs and takes over the pid: the links named the old leader, and are made again.
        await inside.execAgain("SIGWINCH");
        await untilFired();
        expect(await inside.round()).toBe(1);
        expect(held(helper)).toBe(2);
        await trace.waitForEvents("probe1", inside.raised(inside.pid).length - missed.length);
      } finally {
        await trace.close();
      }
      expect(roundsOf(trace, inside.pid)).toEqual(expectedRounds(inside.raised(inside.pid), missed, roundsOf(trace, inside.pid)));
      expect(trace.of("probe1")).toHaveLength(roundsOf(trace, inside.pid).length);
      expect(await inside.round()).toBe(0);
    });
  }

  it("--mode multi: records lost to a full ring buffer are made up by a scan of /proc: 200 children forked while the attacher was stopped are all linked", async () => {
    const inside = new Forky("lost", true);
    await inside.ready();
    const ns = statSync(`/proc/${inside.pid}/ns/mnt`).ino;
    const { plan } = await compile(`usdt pid/${inside.pid}:exe:forky:guarded {\n  round = arg0\n}\n`, { file: "forky.probe" });
    const probe = (plan as AttachPlan).probes[0]!;
    const entry = {
      ...probe,
      target: { ...probe.target, mntNs: ns },
      filter: { kind: "container" as const, containerId: "0".repeat(64), cgroupPaths: [], pids: [] },
    };
    // A one-page ring holds about 170 records (16 bytes and an 8-byte header each): 200 forks overflow it.
    process.env.PROBEC_ATTACH_PROCESS_RING_BYTES = "4096";
    let trace: Trace;
    try {
      trace = await Trace.start({ ...(plan as AttachPlan), probes: [entry] }, "multi");
    } finally {
      delete process.env.PROBEC_ATTACH_PROCESS_RING_BYTES;
    }
    const children: number[] = [];
    try {
      const helper = onlyHelper();
      expect(held(helper)).toBe(2);
      process.kill(helper, "SIGSTOP");
      const from = inside.lines().length;
      try {
        process.kill(inside.pid, "SIGURG");
        await until(
          "200 children",
          () =>
            inside
              .lines()
              .slice(from)
              .filter((l) => l.startsWith("child ")).length === 200,
        );
      } finally {
        process.kill(helper, "SIGCONT");
      }
      for (const l of inside.lines().slice(from)) if (l.startsWith("child ")) children.push(Number(l.slice(6)));
      await until("every child linked", () => held(helper) === 202);
      expect(await inside.round(children.at(-1))).toBe(1);
      for (const c of children) process.kill(c, "SIGTERM");
      await until("the children's links closed", () => held(helper) === 2);
      await trace.waitForEvents("probe1", 1);
    } finally {
      for (const c of children) {
        try {
          process.kill(c, "SIGKILL");
        } catch {
          // Exited already.
        }
      }
      await trace.close();
    }
    expect(trace.of("probe1").map((e) => e.pid)).toEqual([children.at(-1)]);
  });
});

/** The rounds of process `pid` that reached probec, as its events say. */
function roundsOf(trace: Trace, pid: number): unknown[] {
  return trace
    .of("probe1")
    .filter((e) => e.pid === pid)
    .map((e) => e.fields.round);
}

describe("a pid/N filter in the initial plan", () => {
  for (const mode of ["multi", "pmu"] as const) {
    it(`--mode ${mode}: the process's semaphore only, not a sibling's running the same file`, async () => {
      const target = new Forky(`target-${mode}`, false);
      const sibling = new Forky(`other-${mode}`, false);
      await Promise.all([target.ready(), sibling.ready()]);
      const { plan, diagnostics } = await compile(`usdt pid/${target.pid}:exe:forky:guarded {\n  round = arg0\n}\n`, { file: "forky.probe" });
      expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      expect((plan as AttachPlan).probes[0]!.filter).toMatchObject({ kind: "process", pids: [target.pid] });
      const trace = await Trace.start(plan as AttachPlan, mode);
      try {
        expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
        expect(held(onlyHelper())).toBe(1);
        expect([await target.round(), await sibling.round(), await target.round()]).toEqual([1, 0, 1]);
        await trace.waitForEvents("probe1", 2);
      } finally {
        await trace.close();
      }
      expect(trace.of("probe1").map((e) => [e.pid, e.fields.round])).toEqual(target.raised(target.pid).map((r) => [target.pid, r]));
      expect([await target.round(), await sibling.round()]).toEqual([0, 0]);
      expect(sibling.raised(sibling.pid)).toEqual([]);
    });
  }
});
