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
import type { Argv } from "yargs";
import { UsageError } from "../errors.js";
import { nearest } from "../suggest.js";
import { PATH_STRATEGY_NAMES, type PathStrategy } from "../plan/strategies.js";
import type { SessionOptions } from "./attach-session.js";
import { EXIT, type CliIo } from "./io.js";
import { reportError } from "./report.js";
import { VERSION } from "../version.js";

/** The commands `run` dispatches. */
const COMMANDS = ["check", "compile", "list", "resolve", "run", "trace"];

/** Runs probec with `argv` (without `node` and the script), writing to `io`; resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIo, env: Readonly<Record<string, string | undefined>> = {}): Promise<number> {
  const first = argv[0];
  if (first !== undefined && !first.startsWith("-") && !COMMANDS.includes(first)) {
    const near = nearest(first, COMMANDS);
    return reportError(new UsageError(`unknown command "${first}"`, [near.length > 0 ? `did you mean "${near[0]}"?` : `the commands are: ${COMMANDS.join(", ")}`]), io, env);
  }
  // What yargs prints for `--version`, without loading yargs (its ~70 modules are most of start-up).
  if (argv.length === 1 && argv[0] === "--version") {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const { default: yargs } = await import("yargs");
  const parser = yargs()
    .scriptName("probec")
    .usage("probec: find exactly where to put a uprobe or USDT probe\n\nUsage: $0 <command> [options]")
    .command("list <target> [pattern]", "list the USDT probes (--functions: the functions) of an ELF file or a target", (y) =>
      y
        .positional("target", { type: "string", describe: "an ELF file, or a target: docker/NAME:libc, pid/N:exe, pid/N" })
        .positional("pattern", { type: "string", describe: "glob: provider:name for probes (a bare name matches any provider), a name for functions" })
        .option("functions", { alias: "f", type: "boolean", default: false, describe: "list functions instead of USDT probes" })
        .option("json", { type: "boolean", default: false, describe: "print JSON instead of a table" })
        .option("debug-root", { type: "string", array: true, describe: "where to look for separate debug files (default /usr/lib/debug)" })
        .example("$0 list /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so 'hotspot:gc__*'", "USDT probes of the JVM's GC")
        .example("$0 list /usr/bin/node 'uv_run' --functions --json", "one function's address and file offset"),
    )
    .command("resolve [scope]", "show a scope's container, processes, roots and mapped files (none: every container)", (y) =>
      y
        .positional("scope", { type: "string", describe: "docker/NAME, podman/NAME, containerd/ID, crio/ID, k8s/NS/POD, pid/N or host" })
        .option("json", { type: "boolean", default: false, describe: "print JSON instead of a table" })
        .example("$0 resolve docker/web", "the container's host PIDs, root and layers")
        .example("$0 resolve", "every running container, whatever its runtime"),
    )
    .command("compile <file>", "compile a probe file to an AttachPlan (JSON), or print its diagnostics", (y) =>
      y
        .positional("file", { type: "string", describe: "a .probe file" })
        .option("output", { alias: "o", type: "string", describe: "write the plan to this file instead of stdout" })
        .option("strategy", { type: "string", choices: PATH_STRATEGY_NAMES, describe: "path strategy for every probe (wins over the file's options)" })
        .option("explain", { type: "boolean", default: false, describe: "print how each attach point's path and offset were derived (instead of the plan, unless -o)" })
        .example("$0 compile examples/zookeeper-zoo-set2.probe -o plan.json", "write the plan")
        .example("$0 compile spec.probe --explain", "where each probe goes, and why"),
    )
    .command("check <specs..>", "check that probes (.probe files or inline targets) exist in an image, for CI", (y) =>
      y
        .positional("specs", { type: "string", array: true, describe: "a .probe file, or an inline target (libc:malloc, exe:provider:name, /usr/lib/libfoo.so:foo_*)" })
        .option("image", { type: "string", demandOption: true, describe: "a docker save archive, an OCI layout directory or archive, or a root filesystem directory" })
        .option("platform", { type: "string", describe: "os/arch[/variant]: which image of a multi-platform index" })
        .option("exe", { type: "string", describe: "the executable `exe` names (default: the image's Entrypoint/Cmd)" })
        .option("json", { type: "boolean", default: false, describe: "print JSON instead of a table" })
        .option("junit", { type: "string", describe: "also write the result as JUnit XML to this file" })
        .example("$0 check --image app.tar probes/app.probe --junit probes.xml", "fail the CI job when a probe is gone")
        .example("$0 check --image app.tar libc:malloc 'exe:myapp:request__*'", "inline targets"),
    )
    .command("run <file>", "attach a probe file (or a saved plan.json) and print its events", (y) =>
      sessionOptions(y.positional("file", { type: "string", describe: "a .probe file, or a plan written by probec compile -o" }))
        .example("$0 run examples/getaddrinfo-failures.probe", "failed getaddrinfo calls in the container web")
        .example("$0 run plan.json --duration 10 --json", "a saved plan, for 10 s, as JSON lines"),
    )
    .command("trace <probe>", "attach one probe written inline and print its events", (y) =>
      sessionOptions(y.positional("probe", { type: "string", describe: "one probe: KIND TARGET { BODY }" }))
        .example("$0 trace 'uretprobe pid/1234:libc:malloc { rc = retval }'", "malloc's return values in process 1234")
        .example("$0 trace 'uprobe pid/1234:libc:malloc { count by comm }' --duration 5", "malloc calls per thread name for 5 s"),
    )
    .demandCommand(1, "name a command: probec list FILE [PATTERN]")
    .strict()
    .exitProcess(false)
    .version(VERSION)
    .help()
    // yargs' ESM build wraps help mid-word; unwrapped rows stay whole (descriptions are kept short).
    .wrap(null);

  let parsed: Awaited<ReturnType<typeof parser.parseAsync>> | undefined;
  let failure: Error | undefined;
  let output = "";
  try {
    parsed = await new Promise((resolve, reject) => {
      parser.parse([...argv], {}, (error, result, text) => {
        output = text;
        if (error) reject(error);
        else resolve(result);
      });
    });
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
  }
  if (failure !== undefined) {
    return reportError(new UsageError(failure.message, ["run probec --help for the commands and their options"]), io, env);
  }
  if (output !== "") {
    // --help or --version: yargs rendered it; print and stop.
    io.stdout.write(`${output}\n`);
    return EXIT.ok;
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
        return await (await import("./commands/resolve.js")).resolveCommand({ scope: args.scope === undefined ? undefined : String(args.scope), json: args.json === true }, io);
      default:
        throw new UsageError(`unknown command "${String(args._[0])}"`, ["run probec --help for the commands"]);
    }
  } catch (error) {
    return reportError(error, io, env);
  }
}

/** The options `run` and `trace` share. */
function sessionOptions<T>(y: Argv<T>) {
  return y
    .option("json", { type: "boolean", default: false, describe: "one JSON object per event per line" })
    .option("duration", { type: "number", describe: "stop after SECONDS" })
    .option("count", { type: "number", describe: "stop after N events" })
    .option("mode", { type: "string", choices: ["auto", "multi", "pmu", "legacy"], describe: "how to attach: uprobe_multi links, uprobe PMU perf events, or legacy tracefs events (default auto)" })
    .option("strategy", { type: "string", choices: PATH_STRATEGY_NAMES, describe: "path strategy for every probe (wins over the file's options)" })
    .option("quiet", { alias: "q", type: "boolean", default: false, describe: "no status lines" });
}

/** `run`/`trace` options from yargs' result, checked. */
function sessionArgs(args: Record<string, unknown>): SessionOptions & { strategy: PathStrategy | undefined } {
  const duration = args.duration as number | undefined;
  if (duration !== undefined && !(Number.isFinite(duration) && duration > 0)) throw new UsageError(`--duration ${String(args.duration)}: expected a number of seconds above 0`, ["e.g. --duration 10"]);
  const count = args.count as number | undefined;
  if (count !== undefined && !(Number.isSafeInteger(count) && count > 0)) throw new UsageError(`--count ${String(args.count)}: expected a whole number of events above 0`, ["e.g. --count 100"]);
  return {
    json: args.json === true,
    duration,
    count,
    mode: args.mode as SessionOptions["mode"],
    quiet: args.quiet === true,
    strategy: args.strategy as PathStrategy | undefined,
  };
}
