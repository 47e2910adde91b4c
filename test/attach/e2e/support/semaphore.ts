/**
 * Reading a fixture's USDT semaphore from its round lines: `usdt_app`
 * (test/attach/fixtures) writes `round N sema S ticks T` per round, where
 * S is the semaphore it read, and fires e2e:guarded only in rounds where
 * S was up.
 */
import type { Target } from "./targets.js";

/** Runs one round; returns the semaphore the program read in it. */
export async function roundSemaphore(t: Target): Promise<number> {
  const line = (await t.round()).at(-1) ?? "";
  const m = /^round (\d+) sema (\d+) /.exec(line);
  if (m === null) throw new Error(`unexpected round line from pid ${t.pid}: ${line}`);
  return Number(m[2]);
}

/** The rounds (numbers) in which `t` read its semaphore up, from its status file (from line `from` on): exactly the rounds e2e:guarded fired in. */
export function raisedRounds(t: Target, from = 0): bigint[] {
  return t.status
    .lines()
    .slice(from)
    .map((l) => /^round (\d+) sema [1-9]\d* /.exec(l)?.[1])
    .filter((r) => r !== undefined)
    .map(BigInt);
}

/** Rounds until `t` reads its semaphore up (the attacher links a process a few milliseconds after it appears); at most 500. */
export async function untilRaised(t: Target): Promise<void> {
  for (let i = 0; i < 500; i++) if ((await roundSemaphore(t)) === 1) return;
  throw new Error(`pid ${t.pid} never read its semaphore up`);
}
