/**
 * `probec check --image PATH SPEC…`: do the probes exist in this image?
 * For CI, right after the image is built: exit 0 when every target of
 * every probe is there, 1 when any is missing (or cannot be probed as
 * written), 2 for bad input (an unreadable image, an unknown platform, a
 * probe file with errors).
 *
 * SPEC is a probe file (its name ends in `.probe`) or an inline target (`libc:malloc`,
 * `exe:provider:name`, `/usr/lib/libfoo.so:foo_*`; a scope may be written
 * and is ignored). Output: an aligned table, `--json`, and/or `--junit FILE`.
 */
import { checkImage, checkResultToJunit, renderDiagnostics, type CheckResult, type ProbeSource } from "../../index.js";
import { EXIT, type CliIo } from "../io.js";
import { readTextArgument, writeTextArgument } from "../file-arguments.js";
import { renderTable } from "../table.js";

/** Parsed arguments of `probec check`. */
export interface CheckArgs {
  readonly image: string;
  readonly specs: readonly string[];
  readonly platform: string | undefined;
  readonly exe: string | undefined;
  readonly json: boolean;
  readonly junit: string | undefined;
}

/** Runs `probec check`; returns the exit code. */
export async function checkCommand(args: CheckArgs, io: CliIo): Promise<number> {
  const spec = args.specs.map(specOf);
  const result = await checkImage(args.image, spec, {
    ...(args.platform === undefined ? {} : { platform: args.platform }),
    ...(args.exe === undefined ? {} : { exe: args.exe }),
  });
  for (const problem of result.problems) io.stderr.write(renderDiagnostics(problem.text, problem.file, problem.diagnostics));
  for (const note of result.notes) io.stderr.write(`note: ${note}\n`);
  if (args.junit !== undefined) {
    writeTextArgument(args.junit, checkResultToJunit(result));
  }
  if (args.json) io.stdout.write(`${JSON.stringify(toJson(result), null, 2)}\n`);
  else io.stdout.write(render(result));
  const errors = result.problems.reduce((n, p) => n + p.diagnostics.filter((d) => d.severity === "error").length, 0);
  if (errors > 0) {
    io.stderr.write(
      `probec: ${errors} error${errors === 1 ? "" : "s"} in the probe file${result.problems.length === 1 ? "" : "s"}; those probes were not checked\n`,
    );
    return EXIT.badInput;
  }
  return result.ok ? EXIT.ok : EXIT.noMatch;
}

/**
 * A SPEC argument: a probe file when it ends in `.probe`, else an inline
 * target. Only the name decides: `/etc/passwd` is an inline target (a file
 * of the image), even when the host has a file there, whose lines would
 * otherwise be printed as parse errors into a CI log.
 */
function specOf(arg: string): string | ProbeSource {
  if (!arg.endsWith(".probe")) return arg;
  return { file: arg, text: readTextArgument(arg, "probe file") };
}

function render(result: CheckResult): string {
  const rows: string[][] = [];
  for (const check of result.checks) {
    const first = [check.probe, check.target, check.status];
    if (check.sites.length === 0) {
      rows.push([...first, check.object?.path ?? "-", "", "-", "-", ""]);
      continue;
    }
    for (const site of check.sites) {
      rows.push([
        ...first,
        check.object?.path ?? "-",
        site.name,
        `0x${site.fileOffset.toString(16)}`,
        site.semaphoreOffset === undefined ? "-" : `0x${site.semaphoreOffset.toString(16)}`,
        site.args === undefined ? "" : site.args.join(" ") || "(none)",
      ]);
    }
  }
  const table = renderTable(
    [
      { header: "PROBE" },
      { header: "TARGET" },
      { header: "STATUS" },
      { header: "FILE" },
      { header: "SITE" },
      { header: "OFFSET", align: "right" },
      { header: "SEM.OFFSET", align: "right" },
      { header: "ARGUMENTS" },
    ],
    rows,
  );
  const details: string[] = [];
  for (const check of result.checks) {
    if (check.status === "found") continue;
    details.push(`${check.status}: ${check.target}${check.source === undefined ? "" : ` (${check.source.file}:${check.source.line})`}: ${check.message ?? ""}`);
    for (const hint of check.hints) details.push(`  hint: ${hint}`);
  }
  const found = result.checks.filter((c) => c.status === "found").length;
  const where = [result.image.platform, result.image.layout === "directory" ? "root directory" : `${result.image.layout} layout`]
    .filter((x) => x !== undefined)
    .join(", ");
  const summary = `${found} of ${result.checks.length} target${result.checks.length === 1 ? "" : "s"} found in ${result.image.path} (${where})`;
  return `${table}${details.length > 0 ? `\n${details.join("\n")}\n` : ""}\n${summary}\n`;
}

function toJson(result: CheckResult): unknown {
  return { ...result, problems: result.problems.map((p) => ({ file: p.file, diagnostics: p.diagnostics })) };
}
