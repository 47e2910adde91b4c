/**
 * The package's "bin" is the esbuild bundle dist/cli/probec.mjs (built by
 * `npm run build`, scripts/bundle-cli.mjs), not the tsc output the other CLI
 * tests run. It must behave as the CLI does in-process: same output, same
 * exit status, for the fast argv path, the yargs path and an error.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { probec } from "./support/cli.js";

const BIN = "dist/cli/probec.mjs";

describe("the bundled CLI (package.json bin)", () => {
  it("is what package.json names as probec's bin", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin["probec"]).toBe(BIN);
    expect(existsSync(BIN)).toBe(true);
  });

  const lines: string[][] = [
    ["--version"],
    ["--help"],
    ["list", "fixtures/elf/bin/usdt_sema"],
    ["list", "fixtures/elf/bin/usdt_sema", "sema:*", "--json"],
    ["list", "fixtures/elf/bin/usdt_sema", "main", "--functions"],
    ["list", "fixtures/elf/bin/no-such-file"],
    ["list", "fixtures/elf/bin/usdt_sema", "--frobnicate"],
    ["compile", "fixtures/elf/bin/no-such.probe"],
  ];
  for (const argv of lines) {
    it(`prints what the in-process CLI prints for ${JSON.stringify(argv)}`, async () => {
      const bundled = spawnSync(process.execPath, [BIN, ...argv], { encoding: "utf8" });
      const inProcess = await probec(...argv);
      expect({ code: bundled.status, stdout: bundled.stdout, stderr: bundled.stderr }).toEqual(inProcess);
    });
  }
});
