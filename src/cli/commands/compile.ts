/**
 * `probec compile FILE [-o plan.json] [--strategy S] [--explain]`: a probe
 * file → an AttachPlan (JSON on stdout, or in the `-o` file), or every
 * diagnostic of the file, rendered, on stderr with exit code 2.
 *
 * `--explain` prints, for each attach point, how its path and offset were
 * derived; without `-o` it prints that instead of the plan.
 */
import { compile, explainPlan, renderDiagnostics, type PathStrategy } from "../../index.js";
import { EXIT, type CliIo } from "../io.js";
import { readTextArgument, writeTextArgument } from "../file-arguments.js";

/** Parsed arguments of `probec compile`. */
export interface CompileArgs {
  readonly file: string;
  readonly output: string | undefined;
  readonly strategy: PathStrategy | undefined;
  readonly explain: boolean;
}

/** Runs `probec compile`; returns the exit code. */
export async function compileCommand(args: CompileArgs, io: CliIo): Promise<number> {
  const source = readTextArgument(args.file);
  const { plan, diagnostics } = await compile(source, { file: args.file, ...(args.strategy === undefined ? {} : { strategy: args.strategy }) });
  if (diagnostics.length > 0) io.stderr.write(renderDiagnostics(source, args.file, diagnostics));
  if (plan === undefined) {
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    io.stderr.write(`probec: ${args.file}: ${errors} error${errors === 1 ? "" : "s"}; no plan written\n`);
    return EXIT.badInput;
  }
  const json = `${JSON.stringify(plan, null, 2)}\n`;
  if (args.output !== undefined) {
    writeTextArgument(args.output, json);
  }
  if (args.explain) io.stdout.write(explainPlan(plan));
  else if (args.output === undefined) io.stdout.write(json);
  return EXIT.ok;
}
