/**
 * The CLI's grammar as yargs declares it: commands, positionals, options,
 * examples. yargs renders `--help` and every usage error from it; the
 * common well-formed command lines are parsed without loading yargs by
 * ./argv.ts (issue 13: yargs is ~190 KB to compile on every start), whose
 * table test/cli-argv.test.ts checks against this one.
 */
import yargs, { type Argv } from "yargs";
import { PATH_STRATEGY_NAMES } from "../plan/strategies.js";
import { VERSION } from "../version.js";

/** What yargs made of a command line: the arguments, or the text it rendered (help), or its error. */
export interface YargsResult {
  readonly parsed: (Record<string, unknown> & { _: (string | number)[] }) | undefined;
  readonly output: string;
  readonly failure: Error | undefined;
}

/** Parses `argv` with yargs; never throws. */
export async function parseWithYargs(argv: readonly string[]): Promise<YargsResult> {
  const parser = cli();
  let output = "";
  try {
    const parsed = await new Promise<YargsResult["parsed"]>((resolve, reject) => {
      parser.parse([...argv], {}, (error, result, text) => {
        output = text;
        if (error) reject(error);
        else resolve(result as YargsResult["parsed"]);
      });
    });
    return { parsed, output, failure: undefined };
  } catch (error) {
    return { parsed: undefined, output, failure: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** probec's commands and options. */
function cli() {
  return (
    yargs()
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
          .option("explain", {
            type: "boolean",
            default: false,
            describe: "print how each attach point's path and offset were derived (instead of the plan, unless -o)",
          })
          .example("$0 compile examples/zookeeper-zoo-set2.probe -o plan.json", "write the plan")
          .example("$0 compile spec.probe --explain", "where each probe goes, and why"),
      )
      .command("check <specs..>", "check that probes (.probe files or inline targets) exist in an image, for CI", (y) =>
        y
          .positional("specs", {
            type: "string",
            array: true,
            describe: "a .probe file, or an inline target (libc:malloc, exe:provider:name, /usr/lib/libfoo.so:foo_*)",
          })
          .option("image", {
            type: "string",
            demandOption: true,
            describe: "a docker save archive, an OCI layout directory or archive, or a root filesystem directory",
          })
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
          .example("$0 trace 'uprobe pid/1234:libc:malloc { count by comm }' --duration 5", "malloc calls per thread name for 5 s")
          .example("$0 trace 'uprobe+ret pid/1234:libc:getaddrinfo { hist(latency) }' --duration 10", "getaddrinfo's latency as a histogram")
          .example("$0 trace 'uprobe pid/1234:libc:malloc { count by ustack }' --duration 5 --flamegraph malloc.svg", "who calls malloc, as a flame graph"),
      )
      .demandCommand(1, "name a command: probec list FILE [PATTERN]")
      .strict()
      .exitProcess(false)
      .version(VERSION)
      .help()
      // yargs' ESM build wraps help mid-word; unwrapped rows stay whole (descriptions are kept short).
      .wrap(null)
  );
}

/** The options `run` and `trace` share. */
function sessionOptions<T>(y: Argv<T>) {
  return y
    .option("json", { type: "boolean", default: false, describe: "one JSON object per event, and per aggregation of each report, per line" })
    .option("duration", { type: "number", describe: "stop after SECONDS" })
    .option("count", { type: "number", describe: "stop after N events" })
    .option("mode", {
      type: "string",
      choices: ["auto", "multi", "pmu", "legacy"],
      describe: "how to attach: uprobe_multi links, uprobe PMU perf events, or legacy tracefs events (default auto)",
    })
    .option("strategy", { type: "string", choices: PATH_STRATEGY_NAMES, describe: "path strategy for every probe (wins over the file's options)" })
    .option("quiet", { alias: "q", type: "boolean", default: false, describe: "no status lines" })
    .option("follow", { type: "boolean", default: false, describe: "keep running: attach the scope's containers as they start, detach them as they stop" })
    .option("metrics", { type: "string", describe: "serve Prometheus metrics at http://ADDR/metrics (ADDR: HOST:PORT, :PORT, [IPv6]:PORT)" })
    .option("folded", { type: "boolean", default: false, describe: "print only the captured user stacks (ustack), folded for flame graph tools, at exit" })
    .option("flamegraph", { type: "string", describe: "write a flame graph SVG of the captured user stacks (ustack) to FILE at exit" });
}
