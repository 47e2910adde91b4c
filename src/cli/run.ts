/**
 * `run(argv, io)`: the whole CLI as a function. yargs parses and renders
 * help; dispatch and every error report happen here, in one place, so the
 * CLI never prints a stack trace for bad input.
 *
 * Start-up is most of a short command's time (issue 13), so nothing is
 * imported here that every command does not need: yargs once there is
 * something to parse, and each command's module (with the library parts it
 * uses) only when that command runs. `--version` alone needs neither.
 */
import { UsageError } from "../errors.js";
import { nearest } from "../suggest.js";
import type { PathStrategy } from "../plan/strategies.js";
import type { SessionOptions } from "./attach-session.js";
import { EXIT, type CliIo } from "./io.js";
import { reportError } from "./report.js";
import { parseArgv } from "./argv.js";
import { VERSION } from "../version.js";

/** The commands `run` dispatches. */
const COMMANDS = ["check", "compile", "list", "resolve", "run", "trace"];

/** Runs probec with `argv` (without `node` and the script), writing to `io`; resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIo, env: Readonly<Record<string, string | undefined>> = {}): Promise<number> {
  const first = argv[0];
  if (first !== undefined && !first.startsWith("-") && !COMMANDS.includes(first)) {
    const near = nearest(first, COMMANDS);
    return reportError(
      new UsageError(`unknown command "${first}"`, [near.length > 0 ? `did you mean "${near[0]}"?` : `the commands are: ${COMMANDS.join(", ")}`]),
      io,
      env,
    );
  }
  // What yargs prints for `--version`, without loading yargs (its ~70 modules are most of start-up).
  if (argv.length === 1 && argv[0] === "--version") {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  // A plain command line is parsed without yargs; help, errors and anything unusual go through yargs.
  let parsed: (Record<string, unknown> & { _: (string | number)[] }) | undefined = parseArgv(argv);
  if (parsed === undefined) {
    const yargsResult = await (await import("./yargs-cli.js")).parseWithYargs(argv);
    if (yargsResult.failure !== undefined) {
      return reportError(new UsageError(yargsResult.failure.message, ["run probec --help for the commands and their options"]), io, env);
    }
    if (yargsResult.output !== "") {
      // --help or --version: yargs rendered it; print and stop.
      io.stdout.write(`${yargsResult.output}\n`);
      return EXIT.ok;
    }
    parsed = yargsResult.parsed;
  }
  try {
    const args = parsed as Record<string, unknown> & { _: (string | number)[] };
    switch (args._[0]) {
      case "list":
        return await (await import("./commands/list.js")).listCommand(
          {
            target: String(args.target),
            pattern: args.pattern === undefined ? undefined : String(args.pattern),
            functions: args.functions === true,
            json: args.json === true,
            debugRoot: args.debugRoot as string[] | undefined,
          },
          io,
        );
      case "compile":
        return await (await import("./commands/compile.js")).compileCommand(
          {
            file: String(args.file),
            output: args.output === undefined ? undefined : String(args.output),
            strategy: args.strategy === undefined ? undefined : (String(args.strategy) as PathStrategy),
            explain: args.explain === true,
          },
          io,
        );
      case "check":
        return await (await import("./commands/check.js")).checkCommand(
          {
            image: String(args.image),
            specs: (args.specs as unknown[]).map(String),
            platform: args.platform === undefined ? undefined : String(args.platform),
            exe: args.exe === undefined ? undefined : String(args.exe),
            json: args.json === true,
            junit: args.junit === undefined ? undefined : String(args.junit),
          },
          io,
        );
      case "run":
        return await (await import("./commands/run.js")).runCommand({ file: String(args.file), ...sessionArgs(args) }, io);
      case "trace":
        return await (await import("./commands/trace.js")).traceCommand({ probe: String(args.probe), ...sessionArgs(args) }, io);
      case "resolve":
        return await (await import("./commands/resolve.js")).resolveCommand(
          { scope: args.scope === undefined ? undefined : String(args.scope), json: args.json === true },
          io,
        );
      default:
        throw new UsageError(`unknown command "${String(args._[0])}"`, ["run probec --help for the commands"]);
    }
  } catch (error) {
    return reportError(error, io, env);
  }
}

/** `run`/`trace` options from yargs' result, checked. */
function sessionArgs(args: Record<string, unknown>): SessionOptions & { strategy: PathStrategy | undefined } {
  const duration = args.duration as number | undefined;
  if (duration !== undefined && !(Number.isFinite(duration) && duration > 0))
    throw new UsageError(`--duration ${String(args.duration)}: expected a number of seconds above 0`, ["e.g. --duration 10"]);
  const count = args.count as number | undefined;
  if (count !== undefined && !(Number.isSafeInteger(count) && count > 0))
    throw new UsageError(`--count ${String(args.count)}: expected a whole number of events above 0`, ["e.g. --count 100"]);
  if (args.folded === true && args.json === true)
    throw new UsageError("--folded and --json: choose one (--folded prints only stacks, in the folded format)", [
      "drop --json for folded stacks, or --folded for JSON reports whose stack keys hold their frames",
    ]);
  return {
    json: args.json === true,
    duration,
    count,
    mode: args.mode as SessionOptions["mode"],
    quiet: args.quiet === true,
    follow: args.follow === true,
    metrics: args.metrics === undefined ? undefined : String(args.metrics),
    folded: args.folded === true,
    flamegraph: args.flamegraph === undefined ? undefined : String(args.flamegraph),
    strategy: args.strategy as PathStrategy | undefined,
  };
}
