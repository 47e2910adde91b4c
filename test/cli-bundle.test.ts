/**
 * The package's "bin" is dist/cli/probec.cjs, which runs the esbuild bundle
 * of the CLI from V8's code cache (built by `npm run build`,
 * scripts/bundle-cli.mjs), not the tsc output the other CLI tests run. It
 * must behave as the CLI does in-process: same output, same exit status,
 * for the fast argv path, the yargs path and an error; and the cache made
 * at build time must be the one V8 accepts.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { probec } from "./support/cli.js";

const BIN = "dist/cli/probec.cjs";

describe("the bundled CLI (package.json bin)", () => {
  it("is what package.json names as probec's bin", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin["probec"]).toBe(BIN);
    expect(existsSync(BIN)).toBe(true);
  });

  it("runs the bundle from the code cache made at build time", () => {
    const r = spawnSync(process.execPath, [BIN, "list", "fixtures/elf/bin/usdt_sema", "sema:plain"], {
      encoding: "utf8",
      env: { ...process.env, PROBEC_CODE_CACHE_REPORT: "1" },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("probec: code cache accepted\n");
  });

  it("still runs, compiling the bundle, when the cache is from another build", () => {
    const dir = mkdtempSync(join(tmpdir(), "probec-bin-"));
    try {
      for (const name of ["probec.cjs", "probec.bundle.cjs"]) copyFileSync(join("dist/cli", name), join(dir, name));
      writeFileSync(join(dir, "probec.bundle.cache"), "// probec CLI bundle another-build\nnot a cache");
      const r = spawnSync(process.execPath, [join(dir, "probec.cjs"), "list", "fixtures/elf/bin/usdt_sema", "sema:plain"], {
        encoding: "utf8",
        env: { ...process.env, PROBEC_CODE_CACHE_REPORT: "1" },
      });
      expect(r.stderr).toBe("probec: code cache absent\n");
      expect(r.status).toBe(0);
      expect(r.stdout).toBe("PROBE       ADDRESS  OFFSET  SEM.OFFSET  ARGUMENTS\nsema:plain   0x1154  0x1154      0x3010  -4@%edi\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
