/**
 * `goFunctions` against the Go toolchain's own readers:
 *
 * - Go's `debug/gosym` (fixtures/go/gosym-dump): the same names, entries and
 *   ends, for the test program built for amd64 and arm64 with and without
 *   `-s -w`, and for the (stripped) Go toolchain binaries installed here;
 * - `go tool nm` on the unstripped builds: every text symbol at the same
 *   address. The ELF symbol table spells an assembly function's ABI0 symbol
 *   `name.abi0` and array types in full (`[5]`) where the pclntab, which is
 *   what Go prints in tracebacks, says `name` and `[...]`: those two
 *   spellings are mapped before comparing, and the `.abi0` ones must be the
 *   functions `abi` marks ABI0 (assembly, or the ABI0 twin of a Go function). The linker's markers `runtime.text` and
 *   `runtime.etext` are not functions and are left out.
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { goFunctions, goFunctionsNamed } from "../../src/golang/index.js";
import { FileSource } from "../../src/io/file-source.js";
import { buildGoExternalFixtures, buildGoFixtures, buildGoSymDump, go, type GoBinary } from "../support/go.js";

let binaries: GoBinary[] = [];
let external: ReturnType<typeof buildGoExternalFixtures> = [];
let gosymDump = "";
beforeAll(() => {
  binaries = buildGoFixtures();
  external = buildGoExternalFixtures();
  gosymDump = buildGoSymDump();
});

function open(path: string): ElfFile {
  return ElfFile.open(FileSource.open(path), path);
}

function binary(goarch: "amd64" | "arm64", stripped: boolean): GoBinary {
  const found = binaries.find((b) => b.goarch === goarch && b.stripped === stripped);
  if (found === undefined) throw new Error(`no ${goarch} build`);
  return found;
}

/** "entry end name" lines as debug/gosym prints them. */
function gosymLines(path: string): string[] {
  return execFileSync(gosymDump, [path], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 })
    .split("\n")
    .filter((l) => l !== "");
}

function ourLines(path: string): string[] {
  const elf = open(path);
  try {
    return goFunctions(elf).map((f) => `${f.entry.toString(16)} ${f.end.toString(16)} ${f.name}`);
  } finally {
    elf.close();
  }
}

describe("goFunctions equals Go's debug/gosym", () => {
  for (const goarch of ["amd64", "arm64"] as const) {
    for (const stripped of [false, true]) {
      it(`test program, ${goarch}${stripped ? " -s -w" : ""}`, () => {
        const path = binary(goarch, stripped).path;
        const reference = gosymLines(path);
        expect(reference.length).toBeGreaterThan(500);
        expect(ourLines(path)).toEqual(reference);
      });
    }
  }
  const root = "/usr/lib/go-1.19";
  const tools = [join(root, "bin/go"), ...readdirSync(join(root, "pkg/tool/linux_amd64")).map((n) => join(root, "pkg/tool/linux_amd64", n))];
  for (const path of tools) {
    it(`installed ${path}`, () => {
      const reference = gosymLines(path);
      expect(reference.length).toBeGreaterThan(1000);
      expect(ourLines(path)).toEqual(reference);
    });
  }
});

/** `go tool nm`'s functions of `path` by address (the linker's `runtime.text`/`runtime.etext` markers left out). */
function nmFunctions(path: string): Map<string, string> {
  const nm = new Map<string, string>();
  for (const line of go(["tool", "nm", path]).split("\n")) {
    const m = /^\s*([0-9a-f]+) [Tt] (.+)$/.exec(line);
    if (m !== null && m[2] !== "runtime.text" && m[2] !== "runtime.etext") nm.set(m[1] as string, m[2] as string);
  }
  return nm;
}

describe("goFunctions on externally linked builds (C start-up code first in .text; a PIE's relocated table)", () => {
  for (const mode of ["exe", "pie"] as const) {
    for (const stripped of [false, true]) {
      it(`-buildmode=${mode}${stripped ? " -s -w" : ""}: every Go function of go tool nm, at its address`, () => {
        const reference = nmFunctions(external.find((b) => b.mode === mode && !b.stripped)!.path);
        const path = external.find((b) => b.mode === mode && b.stripped === stripped)!.path;
        const elf = open(path);
        try {
          const ours = goFunctions(elf);
          expect(ours.length).toBeGreaterThan(500);
          for (const fn of ours) {
            const symbol = reference.get(fn.entry.toString(16));
            expect(symbol, `${fn.name} at ${fn.entry.toString(16)}`).toBeDefined();
            expect(fn.name).toBe(symbol!.replace(/\.abi0$/, "").replace(/\[\d+\]/g, "[...]"));
          }
          expect(goFunctionsNamed(elf, "main.(*Counter).Add")).toHaveLength(1);
        } finally {
          elf.close();
        }
      });
    }
  }
});

describe("goFunctions equals go tool nm", () => {
  for (const goarch of ["amd64", "arm64"] as const) {
    for (const stripped of [false, true]) {
      it(`${goarch}${stripped ? " -s -w" : ""}: every text symbol, at the same address`, () => {
        const nm = new Map<string, string>();
        for (const line of go(["tool", "nm", binary(goarch, false).path]).split("\n")) {
          const m = /^\s*([0-9a-f]+) [Tt] (.+)$/.exec(line);
          // runtime.text and runtime.etext mark the ends of the text; they are no functions.
          if (m !== null && m[2] !== "runtime.text" && m[2] !== "runtime.etext") nm.set(m[1] as string, m[2] as string);
        }
        const elf = open(binary(goarch, stripped).path);
        try {
          const ours = goFunctions(elf);
          expect(ours.length).toBe(nm.size);
          for (const fn of ours) {
            const symbol = nm.get(fn.entry.toString(16));
            expect(symbol, fn.name).toBeDefined();
            const isAbi0 = symbol!.endsWith(".abi0");
            const spelled = (isAbi0 ? symbol!.slice(0, -".abi0".length) : symbol!).replace(/\[\d+\]/g, "[...]");
            expect(fn.name).toBe(spelled);
            if (isAbi0) expect(fn.abi, fn.name).toBe("ABI0");
            else if (fn.isAsm !== true) expect(fn.abi, fn.name).not.toBe("ABI0");
          }
        } finally {
          elf.close();
        }
      });
    }
  }

  it("names the method, the closure and the early-return function as Go prints them, with file offsets inside the code", () => {
    const elf = open(binary("amd64", true).path);
    try {
      for (const name of ["main.work", "main.(*Counter).Add", "main.main.func1", "main.classify", "main.main"]) {
        const [fn] = goFunctionsNamed(elf, name);
        expect(fn, name).toBeDefined();
        expect(fn!.fileOffset).toBe(elf.fileOffsetOf(fn!.entry, "code"));
        expect(fn!.size).toBeGreaterThan(0);
        expect(fn!.end).toBe(fn!.entry + BigInt(fn!.size));
        expect(fn!.isAsm).toBe(false);
      }
      expect(goFunctionsNamed(elf, "runtime.memmove")[0]?.isAsm).toBe(true);
    } finally {
      elf.close();
    }
  });
});
