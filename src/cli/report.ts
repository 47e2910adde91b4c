/**
 * The one place errors become text. A `ProbecError` is the user's problem:
 * one line naming the input and the problem, then its hints (exit 2; exit 3
 * when attaching failed, which is the machine's problem). An `InternalError`
 * or anything that is not a `ProbecError` is ours: say so, ask for a report
 * with the versions a maintainer needs (probec, Node, kernel), exit 3, and
 * show the stack only on request.
 */
import { release } from "node:os";
import { ProbecError } from "../errors.js";
import { VERSION } from "../version.js";
import { EXIT, type CliIo } from "./io.js";

/** What a bug report needs to know about where probec ran. */
export interface RuntimeVersions {
  readonly probec: string;
  readonly node: string;
  readonly kernel: string;
}

/** The versions of this run: probec's own, Node's and the running kernel's (`uname -r`). */
export function runtimeVersions(): RuntimeVersions {
  return { probec: VERSION, node: process.version, kernel: release() };
}

/** Writes `error` to stderr and returns the exit code it deserves. */
export function reportError(
  error: unknown,
  io: CliIo,
  env: Readonly<Record<string, string | undefined>> = {},
  versions: RuntimeVersions = runtimeVersions(),
): number {
  if (error instanceof ProbecError && error.code !== "E_INTERNAL") {
    io.stderr.write(`probec: ${error.message}\n`);
    for (const hint of error.hints) io.stderr.write(`  hint: ${hint}\n`);
    // Attaching is the machine's problem (helper, kernel, privileges), not the input's.
    return error.code === "E_ATTACH" ? EXIT.internal : EXIT.badInput;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`probec: internal error: ${message}\n`);
  io.stderr.write("  this is a bug in probec; please report it with the command you ran and these versions:\n");
  io.stderr.write(`  probec ${versions.probec}, node ${versions.node}, kernel ${versions.kernel}\n`);
  if (env.PROBEC_DEBUG !== undefined && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
  else io.stderr.write("  (set PROBEC_DEBUG=1 to print the stack trace)\n");
  return EXIT.internal;
}
