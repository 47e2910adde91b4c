/**
 * cpythonTracingNeed (src/locate/cpython.ts) on Debian's real python3.11:
 * its version read from Py_Version agrees with the interpreter's own
 * sys.hexversion, function__entry needs python:line's semaphore, and
 * nothing else does (function__return, other probes, a file that is not
 * CPython 3.11).
 */
import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { FileSource } from "../../src/io/file-source.js";
import { cpythonTracingNeed, cpythonVersionHex } from "../../src/locate/cpython.js";
import { readUsdtSites } from "../../src/usdt/notes.js";

const PYTHON = "/usr/bin/python3.11";

function withElf<T>(path: string, body: (elf: ElfFile) => T): T {
  const elf = ElfFile.open(FileSource.open(path), path);
  try {
    return body(elf);
  } finally {
    elf.close();
  }
}

test("Py_Version is the interpreter's own sys.hexversion", () => {
  const hexversion = Number(execFileSync(PYTHON, ["-c", "import sys; print(sys.hexversion)"], { encoding: "utf8" }));
  expect(withElf(PYTHON, cpythonVersionHex)).toBe(hexversion);
});

test("python3.11's function__entry needs python:line's semaphore; function__return and gc__start do not", () => {
  withElf(PYTHON, (elf) => {
    const need = cpythonTracingNeed(elf, readUsdtSites(elf, { provider: "python", name: "function__entry" }));
    const line = readUsdtSites(elf, { provider: "python", name: "line" });
    expect(need?.version).toMatch(/^3\.11\.\d+$/);
    expect(need?.lineSites.map((s) => [s.fileOffset, s.semaphoreOffset])).toEqual(line.map((s) => [s.fileOffset, s.semaphoreOffset]));
    expect(need?.lineSites.every((s) => typeof s.semaphoreOffset === "number")).toBe(true);
    expect(need?.reason).toMatch(/gh-98894/);
    expect(cpythonTracingNeed(elf, readUsdtSites(elf, { provider: "python", name: "function__return" }))).toBeUndefined();
    expect(cpythonTracingNeed(elf, readUsdtSites(elf, { provider: "python", name: "gc__start" }))).toBeUndefined();
  });
});

test("a file without Py_Version (not CPython 3.11+) needs nothing, whatever sites it is handed", () => {
  const entry = withElf(PYTHON, (elf) => readUsdtSites(elf, { provider: "python", name: "function__entry" }));
  withElf("fixtures/elf/bin/libusdt_same.so", (elf) => {
    expect(cpythonVersionHex(elf)).toBeUndefined();
    expect(cpythonTracingNeed(elf, entry)).toBeUndefined();
  });
});
