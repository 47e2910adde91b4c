/**
 * Hostile Go binaries: the pclntab and `.go.buildinfo` of a real Go program
 * (built by test/support/go.ts) are mutated and truncated, and every reader
 * of src/golang must answer or throw a `ProbecError` (a typed error naming
 * the table), never a `RangeError` or a hang (docs/pitfalls: container files
 * are hostile input). Deterministic: FUZZ_SEED and GO_FUZZ_CASES replay it.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { ProbecError } from "../../src/errors.js";
import { detectGo, findPclntab, findReturnInstructions, goFunctions } from "../../src/golang/index.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { buildGoExternalFixtures, buildGoFixtures } from "../support/go.js";
import { caseSeed, Prng } from "./prng.js";

const CASES = Number(process.env.GO_FUZZ_CASES ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2024);

let seeds: Array<{ name: string; bytes: Uint8Array; pclntab: { offset: number; size: number; pclnOffset: number }; buildinfo: number }> = [];
beforeAll(() => {
  // Stripped amd64 and arm64 builds, and an externally linked stripped PIE (a table found by searching, a relocated text start).
  const paths = [...buildGoFixtures().filter((b) => b.stripped), ...buildGoExternalFixtures().filter((b) => b.stripped && b.mode === "pie")];
  seeds = paths.map((b) => {
    const bytes = new Uint8Array(readFileSync(b.path));
    const elf = ElfFile.open(new BufferSource(bytes), b.path);
    const t = findPclntab(elf)!;
    return { name: b.path, bytes, pclntab: { offset: t.offset, size: t.size, pclnOffset: t.pclnOffset }, buildinfo: elf.section(".go.buildinfo")!.sh_offset };
  });
});

/** Runs every reader; returns the unexpected error, if any. */
function readAll(bytes: Uint8Array): unknown {
  try {
    const elf = ElfFile.open(new BufferSource(bytes), "mutant");
    detectGo(elf);
    const fns = goFunctions(elf);
    for (const fn of fns.slice(0, 50)) {
      if (fn.fileOffset !== undefined) findReturnInstructions(elf, { address: fn.entry, size: fn.size, fileOffset: fn.fileOffset });
    }
    return undefined;
  } catch (error) {
    return error instanceof ProbecError ? undefined : error;
  }
}

describe("src/golang on mutated Go binaries", () => {
  it(`survives ${CASES} mutations of the pclntab and build info`, () => {
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const rng = new Prng(caseSeed(SEED, i));
      const seed = seeds[rng.below(seeds.length)]!;
      const bytes = seed.bytes.slice();
      const view = new DataView(bytes.buffer);
      const what: string[] = [];
      for (let m = 0, n = rng.between(1, 4); m < n; m++) {
        const kind = rng.below(5);
        const t = seed.pclntab;
        if (kind === 0) {
          const at = t.offset + rng.below(64); // header words
          view.setUint32(at - (at % 4), rng.chance(0.5) ? rng.u32() : 0xffffffff);
          what.push(`header@${at}`);
        } else if (kind === 1) {
          const at = t.offset + t.pclnOffset + 4 * rng.below(4096); // function table entries
          view.setUint32(at, rng.chance(0.3) ? 0xffffffff : rng.u32(), true);
          what.push(`functab@${at}`);
        } else if (kind === 2) {
          const at = t.offset + rng.below(t.size); // anywhere: records, names, pc tables
          bytes[at] = rng.below(256);
          what.push(`byte@${at}`);
        } else if (kind === 3) {
          const at = seed.buildinfo + rng.below(64);
          bytes[at] = rng.below(256);
          what.push(`buildinfo@${at}`);
        } else {
          what.push("truncate");
        }
      }
      const final = what.includes("truncate") ? bytes.subarray(0, seed.pclntab.offset + rng.below(seed.pclntab.size)) : bytes;
      const error = readAll(final);
      if (error !== undefined) failures.push(`case ${i} (${what.join(", ")}): ${String(error)}`);
    }
    expect(failures).toEqual([]);
  });

  it("a truncated pclntab is a FormatError naming it", () => {
    const seed = seeds[0]!;
    const elf = ElfFile.open(new BufferSource(seed.bytes.subarray(0, seed.pclntab.offset + 100)), "cut");
    expect(() => goFunctions(elf)).toThrow(ProbecError);
    expect(() => goFunctions(elf)).toThrow(/cut: .*(gopclntab|pclntab)/);
  });
});
