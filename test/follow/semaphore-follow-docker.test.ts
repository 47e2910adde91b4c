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
import { expectedRounds, raisedRounds, readRound, roundSemaphore, untilFiring } from "../attach/e2e/support/semaphore.js";
import { Targets, until, type Target } from "../attach/e2e/support/targets.js";

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
    let missed: bigint[] = [];
    try {
      expect(changes).toEqual([expect.objectContaining({ type: "attached", scope: `docker/${SEMA1}`, points: 1, failed: 0 })]);
      expect([await roundSemaphore(one), await roundSemaphore(other)]).toEqual([1, 0]);

      // Started after: joins the entry through `filter`; its processes get the semaphore, the other container still not.
      two = await targets.container(env.image, SEMA2, "usdt_app", ["2"], labels("sema"));
      const id = two.containerId;
      await until("sema-2 attached", () => changes.some((c) => c.type === "attached" && c.id === id), 30_000);
      expect(following.attached.get(id!)).toEqual(following.attached.get(one.containerId!));
      expect([await roundSemaphore(one), await roundSemaphore(two), await roundSemaphore(other)]).toEqual([1, 1, 0]);

      // A process exec'd into sema-1 later: raised once the helper has read its exec.
      later = await targets.exec(one, "usdt_app", "status-later", ["2"]);
      const exec = later;
      missed = await untilFiring(
        () => readRound(exec),
        (round) => events.some((e) => e.pid === exec.pid && e.fields.round === round),
      );
      expect(await roundSemaphore(later)).toBe(1);
      expect(await roundSemaphore(other)).toBe(0);

      const expected = [one, two, later].reduce((n, t) => n + raisedRounds(t).length, 0) - missed.length;
      await until(`${expected} events`, () => events.length >= expected, 30_000);
    } finally {
      await following.close();
      await reading;
    }
    const rounds = (t: Target) => events.filter((e) => e.pid === t.pid).map((e) => e.fields.round);
    expect(rounds(one)).toEqual(raisedRounds(one));
    expect(rounds(two!)).toEqual(raisedRounds(two!));
    expect(rounds(later!)).toEqual(expectedRounds(raisedRounds(later!), missed, rounds(later!)));
    expect(events).toHaveLength(rounds(one).length + rounds(two!).length + rounds(later!).length);
    expect(raisedRounds(other)).toEqual([]);
    // Detached: every semaphore is down again.
    expect([await roundSemaphore(one), await roundSemaphore(two!), await roundSemaphore(later!), await roundSemaphore(other)]).toEqual([0, 0, 0, 0]);
  });
});
