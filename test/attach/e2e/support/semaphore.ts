/**
 * Reading a fixture's USDT semaphore from its round lines: `usdt_app`
 * (test/attach/fixtures) writes `round N sema S ticks T` per round, where
 * S is the semaphore it read, and fires e2e:guarded only in rounds where
 * S was up.
 */
import { sleep, type Target } from "./targets.js";

/** Runs one round; returns the semaphore the program read in it. */
export async function roundSemaphore(t: Target): Promise<number> {
  return (await runRound(t)).sema;
}

async function runRound(t: Target): Promise<{ round: bigint; sema: number }> {
  const line = (await t.round()).at(-1) ?? "";
  const m = /^round (\d+) sema (\d+) /.exec(line);
  if (m === null) throw new Error(`unexpected round line from pid ${t.pid}: ${line}`);
  return { round: BigInt(m[1] as string), sema: Number(m[2]) };
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

/** One round as the program wrote it: its number, and whether it read the semaphore up (and so fired its probe). */
export interface Round {
  round: bigint;
  raised: boolean;
}

/** Runs one round of `t`. */
export async function readRound(t: Target): Promise<Round> {
  const { round, sema } = await runRound(t);
  return { round, raised: sema !== 0 };
}

/**
 * Rounds until a round that read the semaphore up has also reached probec
 * (`fired`), for a process that is being linked while the test runs (a
 * fork, an exec, a process that enters a container).
 *
 * A link is made in steps the program can run between: the kernel raises
 * the semaphore before it writes the breakpoint, and a perf event (mode
 * pmu) writes its breakpoint when it is opened, before its BPF program is
 * set. A round in that instant reads the semaphore up and fires nothing
 * that reaches probec. From the first round that reached it on, every
 * raised round must.
 *
 * Returns the raised rounds that had not reached probec after `waitMs`:
 * the only rounds a test may find missing. More than 3 is a failure (the
 * instant is one per link, and each round waits `waitMs`).
 */
export async function untilFiring(next: () => Promise<Round>, fired: (round: bigint) => boolean, waitMs = 1000): Promise<bigint[]> {
  const missed: bigint[] = [];
  for (let i = 0; i < 500; i++) {
    const { round, raised } = await next();
    if (!raised) continue;
    const deadline = Date.now() + waitMs;
    while (!fired(round) && Date.now() < deadline) await sleep(10);
    if (fired(round)) return missed;
    missed.push(round);
    if (missed.length > 3) throw new Error(`rounds ${missed.join(", ")} read the semaphore up, but none reached probec within ${waitMs} ms`);
  }
  throw new Error("the semaphore was never read up in 500 rounds");
}

/**
 * The rounds a process's events must hold, in order: every raised round,
 * except that a round {@link untilFiring} found missing may be there or
 * not (its event may have come late).
 */
export function expectedRounds(raised: bigint[], missed: bigint[], got: unknown[]): bigint[] {
  return raised.filter((r) => !missed.includes(r) || got.includes(r));
}
