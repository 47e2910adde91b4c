/**
 * The README's examples are tests: every `console` block's commands are run
 * through the CLI and must print exactly what the block shows, and every
 * `js` block is run as a module importing "probec" (the built package, by
 * self-reference) and must print its following `text` block.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { describe, expect, it } from "vitest";
import { probec, shellWords } from "./support/cli.js";

const root = new URL("..", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");

interface Block {
  lang: string;
  body: string;
  line: number;
}

function blocks(markdown: string): Block[] {
  const found: Block[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) {
    found.push({ lang: m[1] ?? "", body: m[2] ?? "", line: markdown.slice(0, m.index).split("\n").length });
  }
  return found;
}

const all = blocks(readme);

describe("README console examples", () => {
  const consoles = all.filter((b) => b.lang === "console");
  it("has examples", () => expect(consoles.length).toBeGreaterThanOrEqual(6));
  for (const block of consoles) {
    const [command = "", ...expected] = block.body.trimEnd().split("\n");
    it(`line ${block.line}: ${command}`, async () => {
      expect(command.startsWith("$ probec ")).toBe(true);
      const result = await probec(...shellWords(command.slice("$ probec ".length)));
      expect(result.stdout + result.stderr).toBe(`${expected.join("\n")}\n`);
    });
  }
});

describe("README library examples", () => {
  const scripts = all.map((b, i) => ({ b, next: all[i + 1] })).filter(({ b }) => b.lang === "js");
  it("has examples", () => expect(scripts.length).toBeGreaterThanOrEqual(3));
  for (const { b, next } of scripts) {
    it(`line ${b.line} prints what the README says`, () => {
      expect(next?.lang).toBe("text");
      // Written inside the package so that `import "probec"` resolves to this package's build.
      const dir = tmp.dirSync({ tmpdir: root, prefix: ".readme-example-", unsafeCleanup: true });
      try {
        const file = join(dir.name, "example.mjs");
        writeFileSync(file, b.body);
        const out = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8" });
        expect(out).toBe(next?.body);
      } finally {
        dir.removeCallback();
      }
    });
  }
});
