/**
 * `probec run FILE`: attach what FILE describes and print its events.
 * FILE is a probe file (compiled first) or a saved AttachPlan
 * (`probec compile -o plan.json`), told apart by its content: a plan is a
 * JSON object, and a probe file never starts with `{`.
 */
import { UsageError, checkAttachPlan, compile, renderDiagnostics, type AttachPlan, type PathStrategy } from "../../index.js";
import { runSession, type SessionOptions } from "../attach-session.js";
import { EXIT, type CliIo } from "../io.js";
import { readTextArgument } from "../file-arguments.js";

/** Parsed arguments of `probec run`. */
export interface RunArgs extends SessionOptions {
  readonly file: string;
  readonly strategy: PathStrategy | undefined;
}

/** Runs `probec run`; returns the exit code. */
export async function runCommand(args: RunArgs, io: CliIo): Promise<number> {
  const source = readTextArgument(args.file);
  if (args.follow === true) {
    if (source.trimStart().startsWith("{"))
      throw new UsageError(`${args.file}: --follow needs a probe file: a saved plan names the containers that ran when it was compiled`, [
        `run the probe file it was compiled from: probec run SPEC.probe --follow`,
      ]);
    return (await import("../follow-session.js")).runFollowSession(source, args.file, args, io);
  }
  const plan = source.trimStart().startsWith("{") ? savedPlan(source, args) : await compileProbes(source, args.file, args.strategy, io);
  if (plan === undefined) return EXIT.badInput;
  return runSession(plan, args, io, args.file);
}

/** A saved plan, checked for what the attacher reads. */
function savedPlan(source: string, args: RunArgs): AttachPlan {
  if (args.strategy !== undefined) {
    throw new UsageError(`${args.file}: --strategy applies to probe files; a saved plan already holds the paths its strategy chose`, [
      `recompile it: probec compile SPEC.probe --strategy ${args.strategy} -o ${args.file}`,
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new UsageError(`${args.file}: not a valid AttachPlan: the JSON does not parse (${(error as Error).message})`, [
      "a plan is what probec compile FILE -o plan.json writes; a probe file does not start with `{`",
    ]);
  }
  return checkAttachPlan(value, args.file);
}

/**
 * A probe source compiled to a plan; on errors, the rendered diagnostics
 * and a closing line go to stderr and the result is undefined (exit 2).
 */
export async function compileProbes(source: string, file: string, strategy: PathStrategy | undefined, io: CliIo): Promise<AttachPlan | undefined> {
  const { plan, diagnostics } = await compile(source, { file, ...(strategy === undefined ? {} : { strategy }) });
  if (diagnostics.length > 0) io.stderr.write(renderDiagnostics(source, file, diagnostics));
  if (plan === undefined) {
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    io.stderr.write(`probec: ${file}: ${errors} error${errors === 1 ? "" : "s"}; nothing attached\n`);
  }
  return plan;
}
