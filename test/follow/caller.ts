/**
 * The program the follow tests run in containers: on SIGUSR1 it calls
 * work(n) five times and prints each call ("called work(N)"), so a test
 * compares a container's hits with the calls it says it made (given a
 * path, it prints there instead of stdout). Built once
 * per run at a fixed host path, so that the image made from it (named by
 * the source's hash) is reused across runs.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

export const CALLER_SOURCE = String.raw`
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t pending;
static void on_usr1(int sig) { (void)sig; pending++; }

__attribute__((noinline, used)) long work(long n) {
  __asm__ volatile("" ::: "memory");
  return n * 2;
}

int main(int argc, char **argv) {
  long next = 0;
  /* With a path: print there instead (a CRI container's stdout goes nowhere a test can read). */
  if (argc > 1 && freopen(argv[1], "a", stdout) == NULL) return 1;
  signal(SIGUSR1, on_usr1);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    pause();
    while (pending > 0) {
      pending--;
      for (int i = 0; i < 5; i++, next++) {
        work(next);
        printf("called work(%ld)\n", next);
      }
      fflush(stdout);
    }
  }
}
`;

const TAG = createHash("sha256").update(CALLER_SOURCE).digest("hex").slice(0, 12);
/** Where the binary is, on the host and in the image. */
export const CALLER_BINARY = `/tmp/probec-follow-caller-${TAG}`;
/** The image holding it (and its libraries). */
export const CALLER_IMAGE = `probec-follow-caller:${TAG}`;

/** Compiles the program unless this source's binary is there already. */
export function buildCaller(): void {
  if (existsSync(CALLER_BINARY)) return;
  writeFileSync(`${CALLER_BINARY}.c`, CALLER_SOURCE);
  execFileSync("gcc", ["-O1", "-o", CALLER_BINARY, `${CALLER_BINARY}.c`]);
}

/** The calls a caller printed in `log` (its `called work(N)` lines, across its runs), in order. */
export function callsIn(log: string): bigint[] {
  return log
    .split("\n")
    .map((l) => /^called work\((\d+)\)$/.exec(l)?.[1])
    .filter((n) => n !== undefined)
    .map(BigInt);
}

/** Waits until `done()` (checked every `pollMs`), or fails after 30 s with what `log()` shows then. */
export async function until(what: string, done: () => boolean, log: () => unknown, pollMs = 50): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(log(), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
