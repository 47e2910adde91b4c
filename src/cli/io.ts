/**
 * The streams a CLI run writes to. `run()` takes them as arguments (as
 * Peggy's CLI class does), so tests run the CLI in-process and read what it
 * printed; only `main.ts` passes the real process streams.
 */

/** Something text can be written to. */
export interface TextSink {
  write(text: string): unknown;
}

/** The output streams of one CLI run. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /**
   * Aborted when the user interrupts (SIGINT, SIGTERM): long-running
   * commands (`run`, `trace`) stop cleanly on it. Absent in tests that do
   * not interrupt.
   */
  readonly signal?: AbortSignal;
}

/** Exit codes, documented in the README. */
export const EXIT = {
  /** Something matched / all is well. */
  ok: 0,
  /** The command ran but nothing matched. */
  noMatch: 1,
  /** Bad input: usage, a missing or malformed file, a bad pattern. */
  badInput: 2,
  /** A bug in probec, or attaching failed (the helper, the kernel, privileges). */
  internal: 3,
} as const;

/** A sink that collects text, for tests and for commands that render before printing. */
export class StringSink implements TextSink {
  text = "";
  write(text: string): void {
    this.text += text;
  }
}
