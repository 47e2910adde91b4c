/**
 * `probec trace 'PROBE'`: one probe written on the command line, compiled
 * as the file `<inline>`, attached, and its events printed:
 *
 *     probec trace 'uretprobe pid/1234:libc:malloc { rc = retval }'
 */
import { runSession, type SessionOptions } from "../attach-session.js";
import { EXIT, type CliIo } from "../io.js";
import type { PathStrategy } from "../../index.js";
import { compileProbes } from "./run.js";

/** Parsed arguments of `probec trace`. */
export interface TraceArgs extends SessionOptions {
  readonly probe: string;
  readonly strategy: PathStrategy | undefined;
}

/** The file name an inline probe compiles as (in diagnostics and the plan's source locations). */
export const INLINE_FILE = "<inline>";

/** Runs `probec trace`; returns the exit code. */
export async function traceCommand(args: TraceArgs, io: CliIo): Promise<number> {
  if (args.follow === true) return (await import("../follow-session.js")).runFollowSession(args.probe, INLINE_FILE, args, io);
  const plan = await compileProbes(args.probe, INLINE_FILE, args.strategy, io);
  if (plan === undefined) return EXIT.badInput;
  return runSession(plan, args, io, "the inline probe");
}
