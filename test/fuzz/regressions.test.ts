/**
 * Every input under test/fuzz/regressions/ (gimli's habit, docs/style.md
 * house rule 11): files that once crashed or exhausted the reader, replayed
 * on every run through every accessor of the pure reader and the
 * asynchronous API (`sweep.ts`, the same sweep the fuzzer runs) and through
 * the CLI, which must answer with an exit code and one-line error, never an
 * internal error. The folder's README.md says how to add one; each file must
 * have its row there, so every input keeps the story of what it broke.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StringSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import { sweepAll, type Crash } from "./sweep.js";

const DIR = join(import.meta.dirname, "regressions");
const README = readFileSync(join(DIR, "README.md"), "utf8");
const names = readdirSync(DIR)
  .filter((n) => n !== "README.md")
  .sort();

/** The README row of `name`: its cells after the file name. */
const rowOf = (name: string): string[] | undefined => {
  const line = README.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
  return line
    ?.split("|")
    .slice(2, -1)
    .map((c) => c.trim());
};

const describeCrash = (crash: Crash): string =>
  crash.error instanceof Error ? `${crash.accessor}: ${crash.error.stack ?? crash.error.message}` : `${crash.accessor}: threw ${String(crash.error)}`;

describe("test/fuzz/regressions", () => {
  it("holds inputs, each a .bin file with its row in README.md", () => {
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !n.endsWith(".bin"))).toEqual([]);
    expect(names.filter((n) => rowOf(n)?.length !== 3)).toEqual([]);
  });

  for (const name of names) {
    describe(name, () => {
      const path = join(DIR, name);

      it("every kept input goes through every accessor without a crash", async () => {
        const result = await sweepAll(new Uint8Array(readFileSync(path)));
        expect(result.crashes.map(describeCrash)).toEqual([]);
        // The sweep did reach the file's tables, and the input is still refused somewhere (it is hostile).
        expect(result.calls).toBeGreaterThan(10);
        expect(result.refused).toBeGreaterThan(0);
        // …with the refusal its fix introduced, so the input fails again if the fix is undone.
        const wanted = /^`(.*)`$/.exec(rowOf(name)?.[2] ?? "")?.[1];
        if (wanted !== undefined) expect([...result.refusals]).toContain(wanted);
      });

      it.each([[[]], [["--functions"]]])("probec list FILE %j answers with an exit code, never an internal error", async (extra: string[]) => {
        const stdout = new StringSink();
        const stderr = new StringSink();
        const code = await run(["list", path, ...extra], { stdout, stderr });
        expect(stderr.text).not.toContain("internal error");
        expect([0, 1, 2]).toContain(code);
        if (code === 2) expect(stderr.text).toMatch(/^probec: .*\n/);
      });
    });
  }
});
