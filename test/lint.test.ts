/**
 * Formatting and lint, checked in the suite so a violation fails CI
 * (docs/style.md): `biome ci` over the repository with biome.jsonc (line
 * width 160, double quotes, semicolons, two spaces, the recommended lint
 * rules minus the ones biome.jsonc turns off with a reason). On a failure
 * the message lists each file and what is wrong; `npx biome check --write
 * FILE` fixes formatting, and `npm run lint` shows the details.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

interface BiomeReport {
  summary: { changed: number; unchanged: number; errors: number; warnings: number };
  diagnostics: { severity: string; message: string; category: string; location: { path: string; start: { line: number } } }[];
}

it("biome ci finds no formatting or lint violation", () => {
  const r = spawnSync(join(ROOT, "node_modules/.bin/biome"), ["ci", "--colors=off", "--reporter=json", "--max-diagnostics=none", "."], {
    cwd: ROOT,
    encoding: "utf8",
  });
  expect(r.error).toBeUndefined();
  const start = r.stdout.indexOf("{");
  expect(start, `biome printed no report (exit ${r.status}): ${r.stderr}`).toBeGreaterThanOrEqual(0);
  const report = JSON.parse(r.stdout.slice(start, r.stdout.lastIndexOf("}") + 1)) as BiomeReport;
  // It looked at the code, not at nothing: src/ and test/ alone hold well over 200 files.
  expect(report.summary.changed + report.summary.unchanged).toBeGreaterThan(200);
  const problems = report.diagnostics.map(
    (d) => `${d.location.path}${d.category === "format" ? "" : `:${d.location.start.line}`}: ${d.category}: ${d.message}`,
  );
  expect(problems).toEqual([]);
  expect(r.status).toBe(0);
});
