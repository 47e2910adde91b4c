/**
 * Issue 5, end-to-end test 10 (PITFALLS 28): `kill -9` of the CLI:
 * afterwards no uprobe events, BPF links or raised semaphores remain.
 *
 * `probec trace` (the built CLI, a child process) traces e2e:guarded, the
 * semaphore-guarded USDT probe of usdt_app in container probec-attach-kill.
 * Once it says it attached, the test notes what its helper (probec-attach,
 * the CLI's child) holds: BPF links (fdinfo link_id) and, in legacy mode,
 * tracefs uprobe events `probec/pc_<helper pid>_…`; a round shows the
 * semaphore raised and the probe firing. Then SIGKILL to the CLI, which
 * can run no cleanup of its own: the helper must notice (PR_SET_PDEATHSIG),
 * detach everything and exit. After that: no helper process, none of its
 * link ids exists anywhere (BPF_LINK_GET_FD_BY_ID), none of its uprobe
 * events is in tracefs, and the program reads its semaphore as 0 again.
 * Once with the default mode (uprobe_multi here) and once with legacy
 * tracefs events.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnCli } from "./support/cli-process.js";
import { alive, bpfLinkIds, existingBpfLinks, helperPidsOf, orphanedProbecEvents, tracefs, uprobeEvents } from "./support/kernel.js";
import { e2eSetup, type E2e } from "./support/setup.js";
import { sleep, Targets, type Target } from "./support/targets.js";

const NAME = "probec-attach-kill";
const targets = new Targets();
let env: E2e;
let app: Target;

beforeAll(async () => {
  env = await e2eSetup();
  // Legacy attachment writes tracefs; the helper does not mount it (it says "mount tracefs"), a fresh machine may not have it.
  tracefs();
  app = await targets.container(env.image, NAME, "usdt_app", ["2"]);
}, 120_000);

afterAll(() => targets.cleanup());

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(20);
  }
}

for (const mode of ["auto", "legacy"] as const) {
  test(`mode ${mode}: SIGKILL of probec trace leaves no link, no uprobe event, no raised semaphore`, async () => {
    const [before] = await app.round();
    expect(before).toMatch(/^round \d+ sema 0 ticks 2$/);

    const cli = spawnCli(["trace", `usdt docker/${NAME}:exe:e2e:guarded { round = arg0 }`, "--mode", mode], { DOCKER_HOST: env.host });
    let helper: number;
    try {
      await until("probec trace reports that it attached", () => /attached/i.test(cli.stderr()) || cli.child.exitCode !== null);
      expect(cli.child.exitCode, cli.stderr()).toBeNull();
      const helpers = helperPidsOf(cli.child.pid!);
      expect(helpers, "the CLI's probec-attach child").toHaveLength(1);
      helper = helpers[0]!;
      const links = bpfLinkIds(helper);
      const events = uprobeEvents().filter((l) => l.includes(`probec/pc_${helper}_`));
      if (mode === "legacy") expect(events.length, "the helper's tracefs events").toBeGreaterThan(0);
      else expect(links.length, "the helper's BPF links").toBeGreaterThan(0);
      expect(existingBpfLinks(links)).toEqual(links);

      // Attached for real: the semaphore is up and the probe fires.
      const [during] = await app.round();
      const round = /^round (\d+) sema (\d+) ticks 2$/.exec(during!);
      expect(round, during).not.toBeNull();
      expect(Number(round![2])).toBeGreaterThan(0);
      await until("the CLI prints the event", () => new RegExp(`\\b${round![1]}\\b`).test(cli.stdout()));

      cli.child.kill("SIGKILL");
      expect(await cli.exited).toBe("SIGKILL");
      await until(`the helper ${helper} exits after its parent was killed`, () => !alive(helper), 5_000);

      expect(existingBpfLinks(links), "link ids the helper held").toEqual([]);
      expect(uprobeEvents().filter((l) => l.includes(`probec/pc_${helper}_`))).toEqual([]);
      expect(orphanedProbecEvents(), "probec events of any attacher that is gone").toEqual([]);
      const [after] = await app.round();
      expect(after).toMatch(/^round \d+ sema 0 ticks 2$/);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
    }
  });
}
