/**
 * follow() with a selector over a USDT probe that has a semaphore, on the
 * real test Docker daemon (issue 14, native/PROTOCOL.md "Semaphores",
 * PITFALLS 36): containers labelled app=sema share one helper entry (one
 * binary, one image layer), each joined by its mount namespace through the
 * helper's `filter` command; a container of the same image without the
 * label must keep its semaphore at 0, so that it never runs the probe's
 * argument-building code. usdt_app (test/attach/fixtures) reports its
 * e2e:guarded semaphore each round and fires the probe only when it is up,
 * so each container's hits are compared, exactly, with the rounds it says
 * it read the semaphore up in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { follow, type FollowChange } from "../../src/follow/index.js";
import { e2eSetup, type E2e } from "../attach/e2e/support/setup.js";
import { sleep, Targets, type Target } from "../attach/e2e/support/targets.js";

const SEMA1 = "probec-fsema-1";
const SEMA2 = "probec-fsema-2";
const OTHER = "probec-fsema-other";
const SCOPE = 'docker/"app=sema,probec.test=follow-sema"';
const labels = (app: string): string[] => ["--label", `app=${app}`, "--label", "probec.test=follow-sema"];
const targets = new Targets();
let env: E2e;

beforeAll(async () => {
  env = await e2eSetup();
}, 120_000);

afterAll(() => targets.cleanup());

/** Runs one round; returns the semaphore the program read in it. */
async function semaphore(t: Target): Promise<number> {
  const line = (await t.round()).at(-1) ?? "";
  const m = /^round (\d+) sema (\d+) /.exec(line);
  if (m === null) throw new Error(`unexpected round line from pid ${t.pid}: ${line}`);
  return Number(m[2]);
}

/** The rounds in which `t` read its semaphore up: the rounds e2e:guarded fired in. */
function raisedRounds(t: Target): bigint[] {
  return t.status
    .lines()
    .map((l) => /^round (\d+) sema [1-9]\d* /.exec(l)?.[1])
    .filter((r) => r !== undefined)
    .map(BigInt);
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("follow() over a USDT probe with a semaphore", () => {
  it("app=sema containers before and after get the semaphore, a later process in one too; a container of the same image without the label never does", async () => {
    const one = await targets.container(env.image, SEMA1, "usdt_app", ["2"], labels("sema"));
    const other = await targets.container(env.image, OTHER, "usdt_app", ["2"], labels("other"));
    const changes: FollowChange[] = [];
    const following = await follow(`usdt ${SCOPE}:exe:e2e:guarded {\n  round = arg0\n}\n`, {
      file: "semaphore.probe",
      docker: { host: env.host },
      onChange: (c) => changes.push(c),
    });
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    let two: Target | undefined;
    let later: Target | undefined;
    try {
      expect(changes).toEqual([expect.objectContaining({ type: "attached", scope: `docker/${SEMA1}`, points: 1, failed: 0 })]);
      expect([await semaphore(one), await semaphore(other)]).toEqual([1, 0]);

      // Started after: joins the entry through `filter`; its processes get the semaphore, the other container still not.
      two = await targets.container(env.image, SEMA2, "usdt_app", ["2"], labels("sema"));
      const id = two.containerId;
      await until("sema-2 attached", () => changes.some((c) => c.type === "attached" && c.id === id));
      expect(following.attached.get(id!)).toEqual(following.attached.get(one.containerId!));
      expect([await semaphore(one), await semaphore(two), await semaphore(other)]).toEqual([1, 1, 0]);

      // A process exec'd into sema-1 later: raised once the helper has read its exec.
      later = await targets.exec(one, "usdt_app", "status-later", ["2"]);
      for (let i = 0; i < 500 && (await semaphore(later)) !== 1; i++);
      expect(await semaphore(later)).toBe(1);
      expect(await semaphore(other)).toBe(0);

      const expected = [one, two, later].reduce((n, t) => n + raisedRounds(t).length, 0);
      await until(`${expected} events`, () => events.length >= expected);
    } finally {
      await following.close();
      await reading;
    }
    const rounds = (t: Target) => events.filter((e) => e.pid === t.pid).map((e) => e.fields.round);
    expect(rounds(one)).toEqual(raisedRounds(one));
    expect(rounds(two!)).toEqual(raisedRounds(two!));
    expect(rounds(later!)).toEqual(raisedRounds(later!));
    expect(events).toHaveLength(raisedRounds(one).length + raisedRounds(two!).length + raisedRounds(later!).length);
    expect(raisedRounds(other)).toEqual([]);
    // Detached: every semaphore is down again.
    expect([await semaphore(one), await semaphore(two!), await semaphore(later!), await semaphore(other)]).toEqual([0, 0, 0, 0]);
  });
});
