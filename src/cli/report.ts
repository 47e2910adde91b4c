/**
 * The one place errors become text. A `ProbecError` is the user's problem:
 * one line naming the input and the problem, then its hints. Anything else
 * is ours: say so, ask for a report, and show the stack only on request.
 */
import { ProbecError } from "../index.js";
import { EXIT, type CliIo } from "./io.js";

/** Writes `error` to stderr and returns the exit code it deserves. */
export function reportError(error: unknown, io: CliIo, env: Readonly<Record<string, string | undefined>> = {}): number {
  if (error instanceof ProbecError) {
    io.stderr.write(`probec: ${error.message}\n`);
    for (const hint of error.hints) io.stderr.write(`  hint: ${hint}\n`);
    // Attaching is the machine's problem (helper, kernel, privileges), not the input's.
    return error.code === "E_ATTACH" ? EXIT.internal : EXIT.badInput;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`probec: internal error: ${message}\n`);
  io.stderr.write("  this is a bug in probec; please report it with the command you ran\n");
  if (env.PROBEC_DEBUG !== undefined && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
  else io.stderr.write("  (set PROBEC_DEBUG=1 to print the stack trace)\n");
  return EXIT.internal;
}
