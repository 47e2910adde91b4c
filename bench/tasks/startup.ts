/**
 * Task (k): the CLI as a user runs it, whole processes from spawn to exit
 * (issue 13, "Start-up"). Every command runs once per round, the rounds
 * alternate the commands, so that a busy machine slows every row alike.
 *
 * - `node -e 0` beside `probec --version` and `probec list LIBJVM`: the
 *   target is probec within 40 ms of Node's own start.
 * - `probec list FILE PATTERN` beside `bpftrace -l` with the same pattern on
 *   libjvm.so, python3.11 (USDT) and node (functions), with readelf, a C
 *   program with no runtime to start, printed as the floor: the target is
 *   probec faster than bpftrace.
 *
 * probec is the package's "bin" (dist/cli/probec.cjs: the esbuild bundle run from V8's code cache);
 * the unbundled dist/src/cli/main.js is shown for `--version` to show what
 * bundling saves.
 */
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runPeer, which, medianOf, type Sample } from "../measure.js";
import { printTask, type Row, type Target } from "../table.js";
import { lineCount } from "./rows.js";
import { findLibjvm } from "./usdt.js";

const BIN = fileURLToPath(new URL("../../cli/probec.cjs", import.meta.url));
const UNBUNDLED = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const NODE = process.execPath;
/** Rounds measured (after one unmeasured warm-up round). */
const ROUNDS = 11;

/** One command of the table: its pipeline and how to read its answer from its output. */
interface Command {
  readonly tool: string;
  readonly stages: readonly (readonly string[])[];
  readonly describe: (output: string) => string;
  readonly timeoutS: number;
}

/** probec's table output: one line per row after the header. */
const tableRows =
  (what: string) =>
  (out: string): string =>
    `${Math.max(0, lineCount(out) - 1)} ${what}`;
const lines =
  (what: string) =>
  (out: string): string =>
    `${lineCount(out)} ${what}`;
const providers = (out: string): string => `${out.split("\n").filter((l) => /^\s+Provider:/.test(l)).length} sites (all notes)`;

/** The `list FILE PATTERN` comparisons: one per target file the issue names. */
function listComparisons(libjvm: string | undefined): { name: string; commands: Command[] }[] {
  const out: { name: string; commands: Command[] }[] = [];
  const usdt = (name: string, path: string, pattern: string): void => {
    out.push({
      name,
      commands: [
        { tool: `probec list ${name} '${pattern}'`, stages: [[NODE, BIN, "list", path, pattern]], describe: tableRows("sites"), timeoutS: 30 },
        {
          tool: `bpftrace -l 'usdt:${name}:${pattern}'`,
          stages: [["bpftrace", "-l", `usdt:${path}:${pattern}`]],
          describe: lines("probes (provider:name, deduplicated)"),
          timeoutS: 60,
        },
        { tool: `readelf -n ${name}`, stages: [["readelf", "-n", path]], describe: providers, timeoutS: 30 },
      ],
    });
  };
  if (libjvm !== undefined) usdt("libjvm.so", libjvm, "hotspot:gc__*");
  const python = ["/usr/bin/python3.11"].find((p) => existsSync(p));
  if (python !== undefined) usdt("python3.11", realpathSync(python), "python:function__*");
  const node = realpathSync("/usr/bin/node");
  out.push({
    name: "node",
    commands: [
      {
        tool: "probec list node 'uv_*' --functions",
        stages: [[NODE, BIN, "list", node, "uv_*", "--functions"]],
        describe: tableRows("functions"),
        timeoutS: 60,
      },
      { tool: "bpftrace -l 'uprobe:node:uv_*'", stages: [["bpftrace", "-l", `uprobe:${node}:uv_*`]], describe: lines("functions"), timeoutS: 60 },
      {
        tool: "readelf -sW node | grep ' uv_'",
        stages: [
          ["readelf", "-sW", node],
          ["grep", " FUNC .* uv_"],
        ],
        describe: lines("symbols (.symtab and .dynsym)"),
        timeoutS: 60,
      },
    ],
  });
  return out;
}

/** Runs every command once per round, alternating, and makes one row per command. */
function measureAlternating(commands: readonly Command[]): Row[] {
  const samples = commands.map(() => [] as Sample[]);
  const outputs: (string | undefined)[] = commands.map(() => undefined);
  const failures: (string | undefined)[] = commands.map((c) => {
    const missing = c.stages.map((s) => s[0] ?? "").find((command) => which(command) === undefined);
    return missing === undefined ? undefined : `skipped: ${missing} is not installed (scripts/bootstrap.sh --bench installs it)`;
  });
  for (let round = 0; round <= ROUNDS; round++) {
    commands.forEach((command, i) => {
      if (failures[i] !== undefined) return;
      const result = runPeer({ stages: command.stages, capture: true, warmup: 0, runs: 1, budgetS: 0, timeoutS: command.timeoutS });
      if (result.failure !== undefined) {
        failures[i] = `skipped: ${result.failure}`;
        return;
      }
      // Round 0 warms the page cache and the tools' own files; it is not counted.
      if (round > 0) samples[i]?.push(...result.samples);
      outputs[i] = result.output;
    });
  }
  return commands.map((command, i) => ({
    tool: command.tool,
    scope: "whole process" as const,
    samples: failures[i] === undefined ? (samples[i] ?? []) : [],
    bytesHow: "rchar",
    answer: outputs[i] === undefined ? "" : command.describe(outputs[i] ?? ""),
    ...(failures[i] !== undefined ? { note: failures[i] } : {}),
  }));
}

const median = (row: Row | undefined): number | undefined => (row === undefined ? undefined : medianOf(row.samples.map((s) => s.ms)));

/** Runs task (k) and prints its tables. */
export function startupTask(print: (line: string) => void): void {
  if (!existsSync(BIN)) {
    print(`\n(k) CLI start-up\n  skipped: ${BIN} is missing (npm run build bundles it)`);
    return;
  }
  const libjvm = findLibjvm();
  const start: Command[] = [
    { tool: "node -e 0", stages: [[NODE, "-e", "0"]], describe: () => "", timeoutS: 30 },
    { tool: "probec --version", stages: [[NODE, BIN, "--version"]], describe: (o) => o.trim(), timeoutS: 30 },
    { tool: "probec --version (unbundled)", stages: [[NODE, UNBUNDLED, "--version"]], describe: (o) => o.trim(), timeoutS: 30 },
    ...(libjvm === undefined ? [] : [{ tool: "probec list libjvm.so", stages: [[NODE, BIN, "list", libjvm]], describe: tableRows("sites"), timeoutS: 30 }]),
  ];
  const rows = measureAlternating(start);
  const node = median(rows[0]);
  const over = (row: Row | undefined): number | undefined => {
    const m = median(row);
    return m === undefined || node === undefined ? undefined : m - node;
  };
  const targets: Target[] = [{ what: "probec --version median − node -e 0 median", value: over(rows[1]), limit: 40, unit: "ms" }];
  if (libjvm !== undefined) targets.push({ what: "probec list libjvm.so median − node -e 0 median", value: over(rows[3]), limit: 40, unit: "ms" });
  printTask(print, `(k) CLI start-up, whole processes, ${ROUNDS} alternating rounds: ${NODE} ${process.version}`, rows, targets);

  for (const { name, commands } of listComparisons(libjvm)) {
    const listRows = measureAlternating(commands);
    const probec = median(listRows[0]);
    const bpftrace = median(listRows[1]);
    const ratio = probec === undefined || bpftrace === undefined ? undefined : probec / bpftrace;
    printTask(print, `(k) probec list FILE PATTERN beside bpftrace -l, ${name}, ${ROUNDS} alternating rounds`, listRows, [
      { what: "probec median / bpftrace -l median", value: ratio, limit: 1, unit: "×" },
    ]);
  }
}
