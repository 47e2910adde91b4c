/**
 * A small C program a test compiles into a temporary directory and drives
 * line by line: it prints `ready`, then answers each command read on stdin
 * with `done` once its calls are made, and exits on `quit`. The attach
 * tests use it as a target whose every call they know.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A program built from C source, and the directory that holds it. */
export interface BuiltProgram {
  readonly dir: string;
  readonly program: string;
  /** Removes the directory and everything built in it. */
  remove(): void;
}

/** Compiles `source` with gcc into a new temporary directory (`-O1 -g` and `flags`). */
export function buildCProgram(name: string, source: string, flags: readonly string[] = []): BuiltProgram {
  const dir = mkdtempSync(join(tmpdir(), `probec-${name}-`));
  const program = join(dir, name);
  writeFileSync(`${program}.c`, source);
  execFileSync("gcc", ["-O1", "-g", ...flags, "-o", program, `${program}.c`]);
  return { dir, program, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A running line-driven program: its stdout collected by lines, its stdin written a command a line. */
export class LineProgram {
  readonly child: ChildProcess;
  private lines: string[] = [];
  private wake: (() => void) | undefined;

  constructor(argv: readonly [string, ...string[]]) {
    this.child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (text: string) => {
      this.lines.push(...text.split("\n").filter((l) => l !== ""));
      this.wake?.();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Waits for the program's next line not taken yet, and takes it. */
  async next(): Promise<string> {
    while (this.lines.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.lines.shift() as string;
  }

  /** Waits for a line `expected` (one not waited for before), and takes it. */
  async line(expected: string): Promise<void> {
    while (!this.lines.includes(expected)) await new Promise<void>((resolve) => (this.wake = resolve));
    this.lines.splice(this.lines.indexOf(expected), 1);
  }

  /** Writes `command` and waits for the program's `done`: its calls are made. */
  async run(command: string): Promise<void> {
    this.child.stdin?.write(`${command}\n`);
    await this.line("done");
  }

  /** Asks the program to exit, and waits for it (nothing when it has exited already). */
  async quit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.stdin?.end("quit\n");
    await exited;
  }
}

/** A line-driven program whose every line calls `work(n)` for n = 1..5 (`work(n)` returns n * 3). */
export const WORK_PROGRAM = String.raw`
#include <stdio.h>
#include <string.h>

__attribute__((noinline, used)) long work(long n) {
  __asm__ volatile("" ::: "memory");
  return n * 3;
}

int main(void) {
  char line[64];
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "quit", 4) != 0) {
    for (long i = 1; i <= 5; i++) work(i);
    printf("done\n");
    fflush(stdout);
  }
  return 0;
}
`;

/** The probec-attach processes whose parent is `parent` (this test process by default). */
export function attacherPids(parent = process.pid): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const m = /^\d+ \((.*)\) \S+ (\d+) /.exec(readFileSync(`/proc/${e}/stat`, "utf8"));
        return m?.[1] === "probec-attach" && Number(m[2]) === parent;
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}
