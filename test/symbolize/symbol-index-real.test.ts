/**
 * The symbol index against its rules written out plainly (a brute-force
 * reference over the table entries, decoded by src/elf's own SymbolTable
 * rather than the index's bulk decoder), on real objects: the node running
 * this test (C++, 150k table entries, .symtab and .dynsym copies of one
 * function) and the libc it maps (.dynsym only, aliases such as
 * malloc/__libc_malloc that only the name rule separates), and small
 * cross-built fixtures whose tables the index decodes another way than
 * little-endian ELF64 (ELF32 i386, big-endian ELF64 ppc64 and s390x). Probed at every
 * function's first byte, last byte, middle, one past its end and one
 * before its start, the index gives the same symbol, start and size.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC } from "../../src/elf/constants.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { FileSource } from "../../src/io/file-source.js";
import { indexObject } from "../../src/symbolize/object-names.js";

interface Entry {
  readonly start: bigint;
  readonly size: bigint;
  readonly rank: number;
  /** Read only when the reference needs it. */
  readonly name: () => string;
}

/** Every defined function of both tables, with the alias rank the module comment of symbol-index.ts gives. */
function entriesOf(elf: ElfFile): Entry[] {
  const out: Entry[] = [];
  for (const [kind, tableRank] of [
    ["symtab", 0],
    ["dynsym", 1],
  ] as const) {
    const table = elf.symbolTable(kind);
    if (table === undefined) continue;
    for (const raw of table.raw()) {
      const type = raw.st_info & 0xf;
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || raw.st_shndx === SHN_UNDEF) continue;
      const binding = raw.st_info >> 4;
      const name = (): string => {
        const full = table.strings.get(raw.st_name);
        const at = full.indexOf("@");
        return at > 0 ? full.slice(0, at) : full;
      };
      out.push({ start: raw.st_value, size: raw.st_size, rank: (binding === STB_GLOBAL ? 0 : binding === STB_WEAK ? 1 : 2) * 2 + tableRank, name });
    }
  }
  return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

const underscores = (name: string): number => name.length - name.replace(/^_+/, "").length;

/**
 * The rules: of the entries covering `address` (sized: [start, start+size);
 * zero-size: its first byte only), the innermost (highest start, then
 * smallest size), then the best rank, then fewer leading underscores, then
 * the smaller name.
 */
function expected(sorted: readonly Entry[], maxSize: bigint, address: bigint): { name: string; start: bigint; size: bigint } | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as Entry).start <= address) lo = mid + 1;
    else hi = mid;
  }
  const covering: Entry[] = [];
  for (let i = lo - 1; i >= 0; i--) {
    const e = sorted[i] as Entry;
    if (address - e.start > maxSize) break;
    if (address < e.start + e.size || (e.size === 0n && address === e.start)) covering.push(e);
  }
  if (covering.length === 0) return undefined;
  const best = covering
    .map((e) => ({ e, name: e.name() }))
    .sort(
      (a, b) =>
        (a.e.start > b.e.start ? -1 : a.e.start < b.e.start ? 1 : 0) ||
        (a.e.size < b.e.size ? -1 : a.e.size > b.e.size ? 1 : 0) ||
        a.e.rank - b.e.rank ||
        underscores(a.name) - underscores(b.name) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )[0] as { e: Entry; name: string };
  return { name: best.name, start: best.e.start, size: best.e.size };
}

/** The libc this test process maps, from its own maps. */
function mappedLibc(): string {
  const line = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .find((l) => /\/libc(\.so[.\d]*|-[\d.]+\.so)$/.test(l));
  if (line === undefined) throw new Error("this process maps no libc (/proc/self/maps)");
  return line.slice(line.indexOf("/"));
}

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;

describe("symbol index on real objects", () => {
  test.each([
    ["node (this process's executable)", process.execPath, 2_000, 1000],
    ["libc (mapped by this process)", mappedLibc(), 1, 1000],
    ["an i386 fixture (ELF32)", join(BIN, "usdt_cross_i386_O2"), 1, 3],
    ["a ppc64 fixture (big-endian ELF64)", join(BIN, "usdt_cross_ppc64_O2"), 1, 3],
    ["an s390x fixture (big-endian ELF64)", join(BIN, "usdt_cross_s390x_O2"), 1, 3],
  ])("%s: the symbol at every function's first byte, last byte, middle, one past its end and one before it", async (_, path, every, least) => {
    const elf = ElfFile.open(FileSource.open(path), path);
    try {
      const entries = entriesOf(elf);
      expect(entries.length).toBeGreaterThan(least);
      let maxSize = 0n;
      for (const e of entries) if (e.size > maxSize) maxSize = e.size;
      const names = await indexObject(elf, path, { root: undefined, debugRoots: [], providers: [] });
      // node: a sample of about 2,000 functions keeps the brute-force reference quick; the others: every one.
      const step = Math.max(1, Math.floor(entries.length / every));
      let checked = 0;
      let named = 0;
      for (let i = 0; i < entries.length; i += step) {
        const { start, size } = entries[i] as Entry;
        for (const address of [start - 1n, start, start + size / 2n, start + size - 1n, start + size]) {
          if (address < 0n) continue;
          const want = expected(entries, maxSize, address);
          const got = names.index.lookup(address);
          expect(got === undefined ? undefined : { name: got.name, start: got.start, size: got.size }, `${path} at 0x${address.toString(16)}`).toEqual(want);
          checked++;
          if (want !== undefined) named++;
        }
      }
      // The probes found names and gaps alike.
      expect(named).toBeGreaterThan(checked / 2);
      expect(named).toBeLessThan(checked);
    } finally {
      elf.close();
    }
  });
});
