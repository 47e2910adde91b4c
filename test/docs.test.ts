/**
 * The documents in docs/ stay true to the code that cites them: every
 * `PITFALLS N` in the sources is a rule of docs/pitfalls.md, every test that
 * docs/pitfalls.md names exists with that title, every `docs/….md` a file
 * mentions exists, and nothing in the repository points outside it (the
 * rationale used to live in a sibling folder, which readers of the
 * repository do not have).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
const PITFALLS = read("docs/pitfalls.md");

/** Tracked and new (not ignored) text files of the repository. */
const repoFiles = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile())
  .filter(
    (f) => /\.(ts|mts|js|mjs|c|h|md|json|sh|pegjs|gyp)$|Makefile$/.test(f) && !f.startsWith("fixtures/image/") && statSync(join(ROOT, f)).size < 2_000_000,
  );

/** The rule numbers a citation names: "1", "6-9", "1–4", "15, 16", "20 and 21", "1/7". */
function citedRules(text: string): { rule: number; at: string }[] {
  const found: { rule: number; at: string }[] = [];
  for (const m of text.matchAll(/PITFALLS\s+(\d+(?:\s*(?:[-–,/]|and)\s*\d+)*)/g)) {
    const list = m[1]!;
    for (const part of list.split(/\s*(?:,|\/|and)\s*/)) {
      const range = /^(\d+)\s*[-–]\s*(\d+)$/.exec(part);
      if (range !== null) for (let n = Number(range[1]); n <= Number(range[2]); n++) found.push({ rule: n, at: m[0] });
      else found.push({ rule: Number(part), at: m[0] });
    }
  }
  return found;
}

const rules = [...PITFALLS.matchAll(/^### (\d+)\. /gm)].map((m) => Number(m[1]));

describe("docs/pitfalls.md", () => {
  it("numbers its rules 1, 2, 3, … without a gap", () => {
    expect(rules.length).toBeGreaterThanOrEqual(34);
    expect(rules).toEqual(rules.map((_, i) => i + 1));
  });

  it("has every rule cited as PITFALLS N in src/, test/, native/, schema/, scripts/ and the READMEs", () => {
    const known = new Set(rules);
    const unknown: string[] = [];
    let citations = 0;
    for (const file of repoFiles.filter((f) => /^(src|test|native|schema|scripts|grammar|fixtures)\/|^README\.md$/.test(f))) {
      for (const { rule, at } of citedRules(read(file))) {
        citations++;
        if (!known.has(rule)) unknown.push(`${file}: "${at}" cites rule ${rule}`);
      }
    }
    expect(citations).toBeGreaterThan(100);
    expect(unknown).toEqual([]);
  });

  it("names tests that exist, with the titles they have", () => {
    const missing: string[] = [];
    for (const m of PITFALLS.matchAll(/`(test\/[^`]+?\.ts)` › "([^"]+)"/g)) {
      const [, file, title] = m as unknown as [string, string, string];
      if (!existsSync(join(ROOT, file))) missing.push(`${file} does not exist`);
      else if (!read(file).includes(`"${title}"`) && !read(file).includes(`\`${title}\``)) missing.push(`${file} has no test titled "${title}"`);
    }
    for (const m of PITFALLS.matchAll(/`(test\/[^`]+?\.ts)`/g)) if (!existsSync(join(ROOT, m[1]!))) missing.push(`${m[1]} does not exist`);
    expect(missing).toEqual([]);
  });

  it("gives every rule a test, or says it is not yet handled and which issue brings it", () => {
    const sections = PITFALLS.split(/^### /m).slice(1);
    const bare = sections.filter((s) => !/`test\//.test(s) && !/\*\*not yet\*\*/.test(s)).map((s) => s.split("\n")[0]);
    expect(bare).toEqual([]);
  });
});

describe("citations resolve inside the repository", () => {
  it("every docs/….md that a file mentions exists", () => {
    const missing: string[] = [];
    for (const file of repoFiles) {
      for (const m of read(file).matchAll(/\bdocs\/([a-z0-9-]+\.md)/g)) if (!existsSync(join(ROOT, "docs", m[1]!))) missing.push(`${file}: docs/${m[1]}`);
    }
    expect(missing).toEqual([]);
  });

  it("no file points at the sibling folder the documents used to live in, nor at the old upper-case names", () => {
    const outside = `../${"shared"}`;
    const offenders = repoFiles
      .filter((f) => f !== "test/docs.test.ts")
      .filter((f) => {
        const text = read(f);
        return text.includes(outside) || /(?<![/\w])(DESIGN|PITFALLS|STYLE)\.md/.test(text);
      });
    expect(offenders).toEqual([]);
  });

  it("README's layout section points to docs/", () => {
    const readme = read("README.md");
    const development = readme.slice(readme.indexOf("## Development"));
    expect(development).toContain("docs/design.md");
    expect(development).toContain("docs/pitfalls.md");
  });
});
