/**
 * Runs the CLI in-process, as a user would from the repository root, and
 * returns what it printed.
 */
import { StringSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";

/** The result of one in-process CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `probec ...argv` in-process. */
export async function probec(...argv: string[]): Promise<CliResult> {
  const stdout = new StringSink();
  const stderr = new StringSink();
  const code = await run(argv, { stdout, stderr }, {});
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Splits a shell-like command line (single and double quotes, no escapes) into words. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3] ?? "");
  return words;
}
