/**
 * The short path of `findSymbol` (src/elf/exported-symbol.ts): a bare
 * name exported once, unversioned, found through `.gnu.hash` alone.
 *
 * Shared libraries are built here with gcc and the aarch64 cross compiler
 * (freestanding, `--hash-style=both`, so each has `.gnu.hash` and `.hash`)
 * for ELF64 and ELF32, little- and big-endian. The short path must give
 * exactly what the general path gives: every name (exported, `.symtab`
 * only, versioned, missing) is looked up in each library and in a copy
 * whose `.gnu.hash` is retyped to PROGBITS, where the general path takes
 * the SysV `.hash` instead. Hits, bloom-filter misses and chain misses
 * are recognised by the bytes each lookup reads; expected addresses and
 * offsets come from readelf. node's exported functions are checked the
 * same way against a copy of node without `.gnu.hash`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ProbecError } from "../../src/errors.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { findExported } from "../../src/elf/exported-symbol.js";
import { findSymbolIn } from "../../src/elf/find-symbol.js";
import { BufferSource } from "../../src/io/byte-source.js";
import { offsetFromLoads, parseLoads, parseSymbols, readelf } from "../differential/readelf-output.js";

const FIXTURE_SRC = join(import.meta.dirname, "../../fixtures/elf/src");
const EXPORTED = 200;

/** Exported functions, a weak one, one only in `.symtab`, and an exported variable. */
function librarySource(): string {
  const lines = ["static int sink;"];
  for (let i = 0; i < EXPORTED; i++) lines.push(`__attribute__((noinline)) int hashy_fn_${i}(int x) { return x * ${i + 3} + sink; }`);
  lines.push("__attribute__((weak, noinline)) int hashy_weak(int x) { return x - sink; }");
  lines.push("__attribute__((noinline, used)) static int hashy_local_only(int x) { return x ^ sink; }");
  lines.push("int (*hashy_keep)(int) = hashy_local_only;");
  lines.push("int hashy_data = 7;");
  return `${lines.join("\n")}\n`;
}

/** The compilers installed here (the other cross compilers of fixtures/elf/build.sh are not): ELF64 and ELF32, both byte orders. */
const COMPILERS = [
  { cc: "gcc", flags: [], label: "x86_64" },
  { cc: "gcc", flags: ["-m32"], label: "i386 (ELF32)" },
  { cc: "aarch64-linux-gnu-gcc", flags: [], label: "aarch64" },
  { cc: "aarch64-linux-gnu-gcc", flags: ["-mbig-endian"], label: "aarch64_be (big-endian)" },
] as const;

interface Built {
  readonly label: string;
  /** The library with both hash tables. */
  readonly hashy: string;
  /** The same source linked with `--hash-style=sysv`: no `.gnu.hash`. */
  readonly sysvOnly: string;
  /** fixtures/elf/src/ver.c with its version script: `vfunc@VER_1`, `vfunc@@VER_2`, `vonly1@@VER_1`. */
  readonly versioned: string;
}

let built: Built[] = [];
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "probec-gnu-hash-"));
  const source = join(dir, "hashy.c");
  writeFileSync(source, librarySource());
  built = COMPILERS.map(({ cc, flags, label }, n) => {
    const out = (name: string): string => join(dir, `${name}-${n}.so`);
    const link = (style: string, input: string, output: string, extra: string[] = []): string => {
      execFileSync(cc, [...flags, "-O2", "-fPIC", "-shared", "-nostdlib", `-Wl,--hash-style=${style}`, ...extra, input, "-o", output], { stdio: "pipe" });
      return output;
    };
    return {
      label,
      hashy: link("both", source, out("hashy")),
      sysvOnly: link("sysv", source, out("hashy-sysv")),
      versioned: link("both", join(FIXTURE_SRC, "ver.c"), out("ver"), [`-Wl,--version-script=${join(FIXTURE_SRC, "ver.map")}`]),
    };
  });
}, 120_000);

/** A copy of `bytes` whose `.gnu.hash` section is retyped SHT_PROGBITS, read with a minimal reader of our own. */
function withoutGnuHash(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  const is64 = copy[4] === 2;
  const le = copy[5] === 1;
  const shoff = Number(is64 ? view.getBigUint64(0x28, le) : view.getUint32(0x20, le));
  const shentsize = view.getUint16(is64 ? 0x3a : 0x2e, le);
  const shnum = view.getUint16(is64 ? 0x3c : 0x30, le);
  let patched = 0;
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize + 4;
    if (view.getUint32(at, le) === 0x6ffffff6) {
      view.setUint32(at, 1, le);
      patched++;
    }
  }
  expect(patched).toBe(1);
  return copy;
}

/** The answer to one lookup, printable: the found symbol, or the error's code, message and hints. */
function answer(elf: ElfFile, request: string, allowIfunc = false): string {
  try {
    return JSON.stringify(findSymbolIn(elf, request, { allowIfunc }), (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v));
  } catch (error) {
    if (!(error instanceof ProbecError)) throw error;
    // "versions that exist: …" lists candidates in hash-chain order, which differs between .gnu.hash and .hash.
    return `${error.code}: ${error.message} ${JSON.stringify(error.hints.map((h) => h.replace(/: (.*)$/, (_, list: string) => `: ${list.split(", ").sort().join(", ")}`)))}`;
  }
}

/** A source that records the offsets read, over `bytes`. */
class RecordingSource extends BufferSource {
  readonly reads: [number, number][] = [];
  override readAt(offset: number, length: number): Uint8Array {
    this.reads.push([offset, length]);
    return super.readAt(offset, length);
  }
}

function open(bytes: Uint8Array, name: string): { elf: ElfFile; source: RecordingSource } {
  const source = new RecordingSource(bytes);
  return { elf: ElfFile.open(source, name), source };
}

/** `.gnu.hash` as the loader reads it, decoded here from readelf's section table and the raw bytes. */
function gnuHashOf(path: string, bytes: Uint8Array): { offset: number; bucketsAt: number; chainAt: number; test(name: string): "bloom" | "chain" } {
  const line = readelf(["-SW"], path)
    .split("\n")
    .find((l) => /\s\.gnu\.hash\s/.test(l));
  const fields = line?.replace(/^.*\]\s*/, "").split(/\s+/) ?? [];
  const offset = Number.parseInt(fields[3] ?? "", 16);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const le = bytes[5] === 1;
  const wordBytes = bytes[4] === 2 ? 8 : 4;
  const nbuckets = view.getUint32(offset, le);
  const bloomSize = view.getUint32(offset + 8, le);
  const shift = view.getUint32(offset + 12, le);
  const bucketsAt = offset + 16 + bloomSize * wordBytes;
  return {
    offset,
    bucketsAt,
    chainAt: bucketsAt + nbuckets * 4,
    // The bloom filter of the glibc loader (dl-lookup.c), on a bigint of the whole word.
    test(name: string) {
      let h = 5381;
      for (const c of new TextEncoder().encode(name)) h = (h * 33 + c) >>> 0;
      const bits = wordBytes * 8;
      const at = offset + 16 + (Math.floor(h / bits) % bloomSize) * wordBytes;
      const word = wordBytes === 8 ? view.getBigUint64(at, le) : BigInt(view.getUint32(at, le));
      const hit = ((word >> BigInt(h % bits)) & (word >> BigInt((h >>> shift) % bits)) & 1n) === 1n;
      return hit ? "chain" : "bloom";
    },
  };
}

/** readelf's `.dynsym` entry for `name`, and the file offset of its code from readelf's PT_LOADs. */
function readelfExport(path: string, name: string): { value: bigint; fileOffset: number | undefined } {
  const dynsym = parseSymbols(readelf(["-sW", "--dyn-syms"], path)).find((t) => t.section === ".dynsym");
  const entry = dynsym?.entries.find((e) => e.name === name);
  if (entry === undefined) throw new Error(`readelf: ${name} not in ${path}'s .dynsym`);
  return { value: entry.value, fileOffset: offsetFromLoads(parseLoads(readelf(["-lW"], path)), entry.value, "code") };
}

describe("findSymbol's .gnu.hash path gives what the general path gives", () => {
  it("for every name, in libraries of four kinds, with and without .gnu.hash", () => {
    for (const lib of built) {
      for (const path of [lib.hashy, lib.versioned]) {
        const bytes = new Uint8Array(readFileSync(path));
        const fast = ElfFile.open(new BufferSource(bytes), "<file>");
        const general = ElfFile.open(new BufferSource(withoutGnuHash(bytes)), "<file>");
        expect(general.dynamicHash(), lib.label).toBeDefined(); // the SysV .hash: the general path still uses a hash table
        const names = [
          ...Array.from({ length: EXPORTED }, (_, i) => `hashy_fn_${i}`),
          ...["hashy_weak", "hashy_local_only", "hashy_data", "hashy_fn_", "hashy_fn_2000", "missing"],
          ...["vfunc", "vfunc@VER_1", "vfunc@@VER_2", "vfunc@@VER_1", "vonly1", "vonly1@VER_1", "vfunc_v1"],
        ];
        let short = 0;
        for (const name of names) {
          expect(answer(fast, name), `${lib.label} ${path} ${name}`).toBe(answer(general, name));
          if (!name.includes("@") && findExported(fast, name, false) !== undefined) short++;
          // Without .gnu.hash the short path never answers.
          expect(findExported(general, name, false)).toBeUndefined();
        }
        // Every exported function of hashy took the short path; none of libver's versioned ones did.
        expect(short, `${lib.label} ${path}`).toBe(path === lib.hashy ? EXPORTED + 1 : 0);
      }
    }
  });

  it("a hit reads the bloom word, a bucket, the chain, one entry and its name: readelf's address and offset", () => {
    for (const lib of built) {
      const bytes = new Uint8Array(readFileSync(lib.hashy));
      const { elf, source } = open(bytes, lib.hashy);
      const table = gnuHashOf(lib.hashy, bytes);
      source.reads.length = 0;
      const found = findSymbolIn(elf, "hashy_fn_42");
      const expected = readelfExport(lib.hashy, "hashy_fn_42");
      expect({ address: found.address, fileOffset: found.fileOffset, version: found.version, binding: found.binding }, lib.label).toEqual({
        address: expected.value,
        fileOffset: expected.fileOffset,
        version: null,
        binding: "global",
      });
      expect(
        source.reads.some(([at]) => at >= table.chainAt && at < table.chainAt + 4 * (EXPORTED + 10)),
        lib.label,
      ).toBe(true);
      expect(source.reads.length, lib.label).toBeLessThan(12);
    }
  });

  it("a name the bloom filter rejects reads no bucket; one it passes is missed in the chain", () => {
    for (const lib of built) {
      const bytes = new Uint8Array(readFileSync(lib.hashy));
      const { elf, source } = open(bytes, lib.hashy);
      const table = gnuHashOf(lib.hashy, bytes);
      const candidates = Array.from({ length: 400 }, (_, i) => `probec_missing_${i}`);
      const bloomMiss = candidates.find((n) => table.test(n) === "bloom");
      const chainMiss = candidates.find((n) => table.test(n) === "chain");
      expect(bloomMiss, lib.label).toBeDefined();
      expect(chainMiss, lib.label).toBeDefined();
      for (const [name, reachesBuckets] of [
        [bloomMiss as string, false],
        [chainMiss as string, true],
      ] as const) {
        source.reads.length = 0;
        expect(findExported(elf, name, false), `${lib.label} ${name}`).toBeUndefined();
        expect(source.reads.some(([at]) => at >= table.bucketsAt && at < table.chainAt + 4 * (EXPORTED + 10))).toBe(reachesBuckets);
        expect(() => findSymbolIn(elf, name)).toThrow(/not found/);
      }
    }
  });

  it("a versioned name goes the general way: the default version, or the one asked for", () => {
    for (const lib of built) {
      const elf = ElfFile.open(new BufferSource(new Uint8Array(readFileSync(lib.versioned))), lib.versioned);
      expect(findExported(elf, "vfunc", false), lib.label).toBeUndefined();
      expect(findExported(elf, "vonly1", false), lib.label).toBeUndefined();
      const bare = findSymbolIn(elf, "vfunc");
      expect([bare.version, bare.isDefaultVersion], lib.label).toEqual(["VER_2", true]);
      const compat = findSymbolIn(elf, "vfunc@VER_1");
      expect([compat.version, compat.isDefaultVersion], lib.label).toEqual(["VER_1", false]);
      expect(compat.address).not.toBe(bare.address);
      expect(findSymbolIn(elf, "vonly1").version).toBe("VER_1");
    }
  });

  it("a function only in .symtab is found there, after the short path declines", () => {
    for (const lib of built) {
      const elf = ElfFile.open(new BufferSource(new Uint8Array(readFileSync(lib.hashy))), lib.hashy);
      expect(findExported(elf, "hashy_local_only", false), lib.label).toBeUndefined();
      const found = findSymbolIn(elf, "hashy_local_only");
      expect([found.name, found.binding], lib.label).toEqual(["hashy_local_only", "local"]);
    }
  });

  it("a library without .gnu.hash is read through its SysV .hash, with readelf's answer", () => {
    for (const lib of built) {
      const elf = ElfFile.open(new BufferSource(new Uint8Array(readFileSync(lib.sysvOnly))), lib.sysvOnly);
      expect(elf.section(".gnu.hash"), lib.label).toBeUndefined();
      expect(elf.section(".hash"), lib.label).toBeDefined();
      expect(findExported(elf, "hashy_fn_7", false), lib.label).toBeUndefined();
      const found = findSymbolIn(elf, "hashy_fn_7");
      const expected = readelfExport(lib.sysvOnly, "hashy_fn_7");
      expect([found.address, found.fileOffset], lib.label).toEqual([expected.value, expected.fileOffset]);
    }
  });

  it("node: exported functions are found alike with and without .gnu.hash", () => {
    const path = process.execPath;
    const bytes = new Uint8Array(readFileSync(path));
    const fast = ElfFile.open(new BufferSource(bytes), "<file>");
    const general = ElfFile.open(new BufferSource(withoutGnuHash(bytes)), "<file>");
    const dynsym = parseSymbols(readelf(["-sW", "--dyn-syms"], path)).find((t) => t.section === ".dynsym");
    const exported = (dynsym?.entries ?? []).filter((e) => e.type === 2 && e.shndx !== 0 && e.version === undefined).map((e) => e.name);
    expect(exported.length).toBeGreaterThan(1000);
    const sample = ["uv_run", ...exported.filter((_, i) => i % Math.ceil(exported.length / 30) === 0)];
    let short = 0;
    for (const name of sample) {
      expect(answer(fast, name), name).toBe(answer(general, name));
      if (findExported(fast, name, false) !== undefined) short++;
    }
    expect(short).toBe(sample.length);
  }, 120_000);
});
