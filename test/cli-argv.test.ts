/**
 * src/cli/argv.ts parses plain command lines without yargs (start-up,
 * issue 13). Differential: for each line it accepts, yargs (the CLI's
 * declared grammar, src/cli/yargs-cli.ts) must read the same arguments as
 * far as run.ts uses them; the lines it must leave to yargs (help, errors,
 * forms yargs reads its own way) must come back undefined.
 */
import { describe, expect, it } from "vitest";
import { parseArgv } from "../src/cli/argv.js";
import { parseWithYargs } from "../src/cli/yargs-cli.js";

/** What run.ts reads of each command's arguments (booleans as run.ts tests them: `=== true`). */
const READ: Record<string, readonly string[]> = {
  list: ["target", "pattern", "functions", "json", "debugRoot"],
  resolve: ["scope", "json"],
  compile: ["file", "output", "strategy", "explain"],
  run: ["file", "json", "duration", "count", "mode", "strategy", "quiet", "folded", "flamegraph"],
  trace: ["probe", "json", "duration", "count", "mode", "strategy", "quiet", "folded", "flamegraph"],
};
const BOOLEANS = new Set(["functions", "json", "explain", "quiet", "folded"]);

function view(args: Record<string, unknown> & { _: (string | number)[] }): Record<string, unknown> {
  const command = String(args._[0]);
  const out: Record<string, unknown> = { command };
  for (const key of READ[command] ?? []) out[key] = BOOLEANS.has(key) ? args[key] === true : args[key];
  return out;
}

const PLAIN: string[][] = [
  ["list", "/usr/bin/node"],
  ["list", "/usr/bin/node", "uv_*", "--functions"],
  ["list", "/usr/bin/node", "-f", "uv_run", "--json"],
  ["list", "--json", "libjvm.so", "hotspot:gc__*"],
  ["list", "docker/web:libc", "malloc", "-f"],
  ["list", "123", "456"],
  ["list", "a b", "x=y"],
  ["resolve"],
  ["resolve", "docker/web", "--json"],
  ["resolve", "pid/1"],
  ["compile", "spec.probe", "-o", "plan.json", "--strategy", "root"],
  ["compile", "spec.probe", "--output=plan.json", "--explain"],
  ["compile", "spec.probe", "--strategy=fd"],
  ["run", "plan.json", "--duration", "10", "--json"],
  ["run", "plan.json", "--count", "5", "--mode", "multi", "-q"],
  ["trace", "uprobe pid/1:libc:malloc { count }", "--duration", "0.5", "--quiet"],
  ["trace", "uprobe host:/bin/x:f { x = arg0 }", "--mode=legacy", "--strategy", "host", "--count", "1"],
  ["trace", "uprobe pid/1:libc:malloc { count by ustack }", "--folded", "--duration", "5"],
  ["run", "spec.probe", "--flamegraph", "out.svg", "-q"],
];

const LEFT_TO_YARGS: string[][] = [
  [],
  ["--help"],
  ["list", "--help"],
  ["list"],
  ["list", "a", "b", "c"],
  ["list", "a", "--frobnicate"],
  ["list", "a", "--no-json"],
  ["list", "a", "--json", "false"],
  ["list", "a", "--json=true"],
  ["list", "a", "--debug-root", "/d"],
  ["list", "a", "-fq"],
  ["list", "a", "--", "b"],
  ["list", ""],
  ["list", "a", "--json", "--json"],
  ["check", "--image", "x.tar", "libc:malloc"],
  ["compile", "spec.probe", "--strategy", "nowhere"],
  ["compile", "spec.probe", "-o"],
  ["compile", "spec.probe", "-o", "-x"],
  ["run", "plan.json", "--duration", "-1"],
  ["run", "plan.json", "--duration", "1e3"],
  ["run", "plan.json", "--duration", "ten"],
  ["run", "plan.json", "--mode", "fast"],
  ["trace"],
  ["resolve", "a", "b"],
  ["version"],
];

describe("the CLI's fast argv parser", () => {
  for (const argv of PLAIN) {
    it(`reads ${JSON.stringify(argv)} as yargs does`, async () => {
      const fast = parseArgv(argv);
      expect(fast).toBeDefined();
      const slow = await parseWithYargs(argv);
      expect(slow.failure).toBeUndefined();
      expect(slow.output).toBe("");
      expect(slow.parsed).toBeDefined();
      if (fast === undefined || slow.parsed === undefined) return;
      expect(view(fast)).toEqual(view(slow.parsed));
    });
  }

  for (const argv of LEFT_TO_YARGS) {
    it(`leaves ${JSON.stringify(argv)} to yargs`, () => {
      expect(parseArgv(argv)).toBeUndefined();
    });
  }
});
