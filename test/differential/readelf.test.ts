/**
 * Differential checks against GNU readelf (docs/style.md house rule 11), with
 * the `elfinfo` npm package as a second, independent oracle on the small
 * fixtures.
 *
 * Every file in fixtures/elf/bin (not corrupt/) and every real binary found
 * on this machine (libstdc++, libc, Debian's python3.x with semaphores, the
 * JDK's libjvm with ~530 USDT sites, postgres, node) is read by probec and
 * by readelf, and compared field by field:
 *
 * - `readelf -nW`: every stapsdt note (provider, name, location after the
 *   `.stapsdt.base` rule computed from `readelf -SW`, semaphore, arguments)
 *   and the GNU build-id;
 * - `readelf -sW --dyn-syms`: every entry of `.dynsym` and `.symtab`
 *   (name, version, value, size, type, bind, visibility, section) and the
 *   entry counts;
 * - `readelf -lW`: every PT_LOAD, and every FUNC symbol's file offset
 *   (`vaddr - p_vaddr + p_offset` of readelf's executable segment, PITFALLS
 *   1) through `fileOffsetOf`, `listSymbolsIn` and `findSymbolIn`, where
 *   the code address follows the architecture (Thumb bit, ppc64 `.opd`
 *   descriptors from `readelf -x .opd`, ppc64 `[<localentry>: N]`);
 * - `readelf -SW`: every section header; `--debug-dump=links`: the
 *   `.gnu_debuglink`.
 *
 * sstripped fixtures have no section headers, so readelf cannot show their
 * dynamic symbols; the unstripped original's `.dynsym` (the same bytes)
 * stands in for probec's PT_DYNAMIC reading.
 *
 * Expected values are derived only from readelf's text; probec's own
 * helpers are never used to compute them.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { open as elfinfoOpen, type ELFSymbolSection } from "elfinfo";
import { afterAll, describe, expect, it } from "vitest";
import { findUsdt, openElf, ProbecError, type ElfFile } from "../../src/index.js";
import { EM_ARM, EM_PPC64, PT_LOAD, SHN_UNDEF, STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE, STT_SECTION } from "../../src/elf/constants.js";
import { findSymbolIn } from "../../src/elf/find-symbol.js";
import { listSymbolsIn } from "../../src/elf/list-symbols.js";
import type { SymbolTable, SymbolTableKind } from "../../src/elf/symbols.js";
import { readUsdtSites } from "../../src/usdt/notes.js";
import {
  offsetFromLoads,
  parseDebugLink,
  parseLoads,
  parseNotes,
  parseSections,
  parseSymbols,
  readelf,
  type ReadelfLoad,
  type ReadelfSymbol,
  type ReadelfSymbolTable,
} from "./readelf-output.js";

const FIXTURES = join(import.meta.dirname, "../../fixtures/elf/bin");

/** A file to compare, and how much of its symbol tables to compare entry by entry. */
interface Target {
  readonly label: string;
  readonly path: string;
  /** Compare every `sampleEvery`-th symbol (1 = all); counts are always compared in full. */
  readonly sampleEvery: number;
  readonly isFixture: boolean;
}

function fixtureTargets(): Target[] {
  const files: Target[] = [];
  for (const dir of [FIXTURES, join(FIXTURES, ".debug")]) {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (!statSync(path).isFile()) continue;
      files.push({ label: path.slice(FIXTURES.length + 1), path, sampleEvery: 1, isFixture: true });
    }
  }
  return files;
}

/** Real binaries present on this machine; each found file is compared once (symlinks deduplicated). */
function systemTargets(): Target[] {
  const candidates: string[] = [];
  const libDirs = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"];
  for (const dir of libDirs) candidates.push(join(dir, "libstdc++.so.6"), join(dir, "libc.so.6"));
  const pythons = existsSync("/usr/bin")
    ? readdirSync("/usr/bin")
        .filter((n) => /^python3\.\d+$/.test(n))
        .sort()
    : [];
  candidates.push(...pythons.map((n) => join("/usr/bin", n)));
  for (const root of ["/usr/lib/jvm"]) {
    if (!existsSync(root)) continue;
    for (const jdk of readdirSync(root).sort()) candidates.push(join(root, jdk, "lib/server/libjvm.so"));
  }
  if (existsSync("/usr/lib/postgresql")) {
    for (const version of readdirSync("/usr/lib/postgresql").sort()) candidates.push(join("/usr/lib/postgresql", version, "bin/postgres"));
  }
  candidates.push("/usr/bin/node");
  const seen = new Set<string>();
  const targets: Target[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (seen.has(real) || !statSync(real).isFile()) continue;
    seen.add(real);
    // node is ~100 MB with ~185k symbols: compare a sample of its entries (counts in full).
    const sampleEvery = real.endsWith("/node") ? 97 : 1;
    targets.push({ label: candidate, path: real, sampleEvery, isFixture: false });
  }
  return targets;
}

const fixtures = fixtureTargets();
const systems = systemTargets();

/** readelf output per (file, options), computed on first use. */
const readelfCache = new Map<string, string>();
function cachedReadelf(args: string[], path: string): string {
  const key = `${args.join(" ")}\0${path}`;
  let text = readelfCache.get(key);
  if (text === undefined) readelfCache.set(key, (text = readelf(args, path)));
  return text;
}

const opened = new Map<string, ElfFile>();
function elfOf(path: string): ElfFile {
  let elf = opened.get(path);
  if (elf === undefined) opened.set(path, (elf = openElf(path)));
  return elf;
}
afterAll(() => {
  for (const elf of opened.values()) elf.close();
});

const MAX_REPORTED = 25;

/** Collects mismatch descriptions; the assertion shows them all at once. */
class Mismatches {
  readonly list: string[] = [];
  add(what: string, actual: unknown, expected: unknown): void {
    if (this.list.length < MAX_REPORTED) this.list.push(`${what}: probec ${show(actual)}, readelf ${show(expected)}`);
    else if (this.list.length === MAX_REPORTED) this.list.push("… (more)");
  }
  check(what: string, actual: unknown, expected: unknown): void {
    if (actual !== expected) this.add(what, actual, expected);
  }
}

function show(value: unknown): string {
  if (typeof value === "bigint") return `0x${value.toString(16)}`;
  return JSON.stringify(value) ?? String(value);
}

/** ppc64 ELFv1 (big-endian, e_flags ABI 0/1): FUNC symbols name `.opd` descriptors, not code. */
function isPpc64ElfV1(elf: ElfFile): boolean {
  return elf.header.e_machine === EM_PPC64 && (elf.header.e_flags & 3) !== 2 && !elf.header.littleEndian;
}

/**
 * Where a function's code starts, from readelf's output alone (the rules of
 * fixtures/elf/README.md → facts.json `code_addr`): Thumb functions clear
 * bit 0; ppc64 ELFv1 functions name an `.opd` descriptor whose first
 * doubleword (`readelf -x .opd`) is the entry; ppc64 ELFv2 functions are
 * probed at their local entry, `[<localentry>: N]` bytes past the symbol.
 */
function codeAddressOf(elf: ElfFile, target: Target, entry: ReadelfSymbol): bigint {
  if (entry.type !== STT_FUNC) return entry.value;
  if (elf.header.e_machine === EM_ARM) return entry.value & ~1n;
  if (isPpc64ElfV1(elf)) return opdEntries(target.path).get(entry.value) ?? entry.value;
  return entry.value + BigInt(entry.localEntry);
}

/** The entry point in every `.opd` descriptor, by descriptor address, from `readelf -x .opd` (big-endian doublewords). */
const opdCache = new Map<string, Map<bigint, bigint>>();
function opdEntries(path: string): Map<bigint, bigint> {
  const cached = opdCache.get(path);
  if (cached !== undefined) return cached;
  const dump = cachedReadelf(["-x", ".opd"], path);
  const bytes: number[] = [];
  let start: bigint | undefined;
  for (const line of dump.split("\n")) {
    const row = /^\s+0x([0-9a-f]+) ((?:[0-9a-f]{2,8} ?){1,4})/.exec(line);
    if (row === null) continue;
    start ??= BigInt(`0x${row[1]}`);
    for (const word of (row[2] ?? "").trim().split(/\s+/)) for (let i = 0; i < word.length; i += 2) bytes.push(parseInt(word.slice(i, i + 2), 16));
  }
  const entries = new Map<bigint, bigint>();
  for (let at = 0; at + 8 <= bytes.length; at += 8) {
    let value = 0n;
    for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(bytes[at + i] ?? 0);
    entries.set((start ?? 0n) + BigInt(at), value);
  }
  opdCache.set(path, entries);
  return entries;
}

/** The name probec's resolve() gives back, rendered the way readelf prints `.symtab` (where `@VER` is part of the name). */
function symtabDisplay(name: string, version: string | undefined, isDefault: boolean): string {
  return version === undefined ? name : `${name}${isDefault ? "@@" : "@"}${version}`;
}

function compareSymbolTable(
  elf: ElfFile,
  kind: SymbolTableKind,
  table: SymbolTable,
  expected: ReadelfSymbolTable,
  sampleEvery: number,
): { compared: number; mismatches: string[] } {
  const m = new Mismatches();
  m.check(`${expected.section} entry count`, table.count, expected.count);
  const rows = expected.entries;
  m.check(`${expected.section} rows printed by readelf`, rows.length, expected.count);
  let compared = 0;
  let iterated = 0;
  table.strings.retain();
  try {
    for (const raw of table.raw()) {
      iterated++;
      if (raw.index % sampleEvery !== 0 && sampleEvery !== 1) continue;
      const e = rows[raw.index];
      const where = `${expected.section}[${raw.index}]`;
      if (e === undefined || e.index !== raw.index) {
        m.add(`${where} row`, raw.index, e?.index);
        continue;
      }
      compared++;
      const s = table.resolve(raw);
      m.check(`${where} value`, s.value, e.value);
      m.check(`${where} size`, s.size, e.size);
      m.check(`${where} type`, s.type, e.type);
      m.check(`${where} bind`, s.binding, e.bind);
      m.check(`${where} visibility`, s.visibility, e.visibility);
      m.check(`${where} shndx`, s.shndx, e.shndx);
      if (e.type === STT_SECTION && raw.st_name === 0) {
        // readelf prints the section's name for an unnamed STT_SECTION symbol.
        m.check(`${where} name (section symbol)`, s.name, "");
        m.check(`${where} section name`, elf.sectionAt(e.shndx)?.name, e.display);
        continue;
      }
      if (kind === "symtab") {
        m.check(`${where} name`, symtabDisplay(s.name, s.version, s.isDefaultVersion), e.display);
        continue;
      }
      m.check(`${where} name`, s.name, e.name);
      if (e.versionKind === "none") {
        // binutils (readelf.c get_symbol_version_string) prints no version
        // for a version's own definition symbol (`VER_1`, `GLIBC_2.14` ABS
        // symbols): there the symbol name is the verdef name.
        const isVersionSymbol = s.version !== undefined && s.version === s.name && s.shndx !== SHN_UNDEF;
        if (!isVersionSymbol) m.check(`${where} ${e.display} version`, s.version, undefined);
      } else {
        m.check(`${where} ${e.display} version`, s.version, e.version);
        m.check(`${where} ${e.display} default version`, s.isDefaultVersion, e.versionKind === "default");
        m.check(`${where} ${e.display} needed version`, table.versionOf(raw.index)?.needed ?? false, e.versionKind === "needed");
      }
    }
  } finally {
    table.strings.release();
  }
  m.check(`${expected.section} entries iterated by raw()`, iterated, Math.max(expected.count - 1, 0));
  return { compared, mismatches: m.list };
}

/**
 * readelf's symbol tables for `target`. readelf cannot show the dynamic
 * symbols of an sstripped file (no section headers; `-D` reports "Dynamic
 * symbol information is not available"), so for `X_sstrip` the `.dynsym`
 * of the unstripped `X` stands in: sstrip moves no byte of it.
 */
function symbolTablesOf(target: Target): ReadelfSymbolTable[] {
  const own = parseSymbols(cachedReadelf(["-sW", "--dyn-syms"], target.path));
  const original = target.path.replace(/_sstrip(\.so)?$/, "$1");
  if (own.length > 0 || original === target.path || !existsSync(original)) return own;
  return parseSymbols(cachedReadelf(["-sW", "--dyn-syms"], original)).filter((t) => t.section === ".dynsym");
}

/** True for a separate debug file, whose `.text` is NOBITS (no code bytes, so no code offsets). */
function isDebugOnly(target: Target): boolean {
  return parseSections(cachedReadelf(["-SW"], target.path)).find((s) => s.name === ".text")?.type === "NOBITS";
}

function loadsOf(target: Target): ReadelfLoad[] {
  return parseLoads(cachedReadelf(["-lW"], target.path));
}

/** Defined FUNC rows of every table, with the table's name. */
function definedFunctions(tables: readonly ReadelfSymbolTable[]): Array<{ table: string; entry: ReadelfSymbol }> {
  const out: Array<{ table: string; entry: ReadelfSymbol }> = [];
  for (const t of tables) {
    for (const entry of t.entries) if (entry.type === STT_FUNC && entry.shndx !== SHN_UNDEF) out.push({ table: t.section, entry });
  }
  return out;
}

/** The name part of a readelf name column, the way probec splits it (`foo@VER` → `foo`). */
function baseName(table: string, entry: ReadelfSymbol): string {
  if (table === ".dynsym") return entry.name;
  const at = entry.display.indexOf("@");
  return at > 0 ? entry.display.slice(0, at) : entry.display;
}

function defineTargetTests(target: Target): void {
  describe(target.label, () => {
    it("PT_LOAD segments match readelf -lW", () => {
      const elf = elfOf(target.path);
      const expected = loadsOf(target);
      const actual = elf.programHeaders
        .filter((p) => p.p_type === PT_LOAD)
        .map((p) => ({ offset: p.p_offset, vaddr: p.p_vaddr, paddr: p.p_paddr, filesz: p.p_filesz, memsz: p.p_memsz, flags: p.p_flags & 7, align: p.p_align }));
      expect(actual).toEqual(expected);
      expect(expected.length).toBeGreaterThan(0);
    });

    it("section headers match readelf -SW", () => {
      const elf = elfOf(target.path);
      const expected = parseSections(cachedReadelf(["-SW"], target.path));
      const actual = elf.sections.map((s) => ({
        index: s.index,
        name: s.name,
        addr: s.sh_addr,
        offset: s.sh_offset,
        size: s.sh_size,
        entsize: s.sh_entsize,
        link: s.sh_link,
        info: s.sh_info,
        align: s.sh_addralign,
      }));
      expect(actual).toEqual(expected.map(({ type: _type, flags: _flags, ...rest }) => rest));
      // sstripped fixtures have no section headers at all; everything else has some.
      expect(elf.sections.length > 0).toBe(elf.header.e_shoff !== 0);
    });

    it("symbol tables match readelf -sW --dyn-syms entry by entry", () => {
      const elf = elfOf(target.path);
      const tables = symbolTablesOf(target);
      const probecTables = (["dynsym", "symtab"] as const).flatMap((kind) => {
        const table = elf.symbolTable(kind);
        return table === undefined ? [] : [{ kind, table }];
      });
      expect(probecTables.map((t) => t.table.section.name).sort()).toEqual(tables.map((t) => t.section).sort());
      let compared = 0;
      for (const { kind, table } of probecTables) {
        const expected = tables.find((t) => t.section === table.section.name);
        expect(expected, `readelf prints ${table.section.name}`).toBeDefined();
        if (expected === undefined) continue;
        const result = compareSymbolTable(elf, kind, table, expected, target.sampleEvery);
        expect(result.mismatches, `${target.label} ${table.section.name}`).toEqual([]);
        compared += result.compared;
      }
      const total = tables.reduce((n, t) => n + Math.max(t.count - 1, 0), 0);
      if (target.sampleEvery === 1) expect(compared).toBe(total);
      else expect(compared).toBeGreaterThan(total / target.sampleEvery / 2);
    }, 120_000);

    it("every FUNC symbol's file offset is vaddr - p_vaddr + p_offset of readelf's executable PT_LOAD", () => {
      const elf = elfOf(target.path);
      const loads = loadsOf(target);
      const tables = symbolTablesOf(target);
      const m = new Mismatches();
      let checked = 0;
      const functions = definedFunctions(tables);
      for (const [i, { table, entry }] of functions.entries()) {
        if (i % target.sampleEvery !== 0) continue;
        const address = codeAddressOf(elf, target, entry);
        const expected = offsetFromLoads(loads, address, "code");
        m.check(`${table}[${entry.index}] ${entry.display} at 0x${address.toString(16)}: fileOffsetOf`, elf.fileOffsetOf(address, "code"), expected);
        if (expected !== undefined) checked++;
      }
      expect(m.list).toEqual([]);
      if (functions.length > 0 && !isDebugOnly(target)) expect(checked).toBeGreaterThan(0);

      // listSymbolsIn: every defined FUNC, .dynsym first, a .symtab copy of an
      // exported (name, address) once, each with the offset readelf's segments give.
      if (target.sampleEvery !== 1) return;
      const exported = new Set<string>();
      const expectedListing: string[] = [];
      for (const { table, entry } of functions) {
        const name = baseName(table, entry);
        if (name === "") continue;
        const key = `${name} 0x${entry.value.toString(16)}`;
        if (table === ".dynsym") exported.add(key);
        else if (entry.bind !== 0 && exported.has(key)) continue;
        const address = codeAddressOf(elf, target, entry);
        const code = offsetFromLoads(loads, address, "code");
        const offset = code ?? offsetFromLoads(loads, entry.value, "data");
        if (offset === undefined) continue;
        expectedListing.push(`${name} 0x${(code !== undefined ? address : entry.value).toString(16)} -> 0x${offset.toString(16)}`);
      }
      const listed = listSymbolsIn(elf, { types: ["func"] }).map((s) => `${s.name} 0x${s.address.toString(16)} -> 0x${s.fileOffset.toString(16)}`);
      expect(listed.sort()).toEqual(expectedListing.sort());
    }, 120_000);

    it("findSymbolIn gives readelf's offset for uniquely defined functions", () => {
      const elf = elfOf(target.path);
      const loads = loadsOf(target);
      const tables = symbolTablesOf(target);
      // Every code-typed definition of each base name, both tables.
      const byName = new Map<string, Array<{ table: string; entry: ReadelfSymbol }>>();
      for (const t of tables) {
        for (const entry of t.entries) {
          if (entry.shndx === SHN_UNDEF || ![STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE].includes(entry.type)) continue;
          const name = baseName(t.section, entry);
          if (name === "") continue;
          const list = byName.get(name) ?? [];
          list.push({ table: t.section, entry });
          byName.set(name, list);
        }
      }
      const unique: Array<{ name: string; address: bigint; offset: number; exported: boolean }> = [];
      for (const [name, defs] of byName) {
        const first = defs[0];
        if (first === undefined || !defs.every((d) => d.entry.type === STT_FUNC && d.entry.value === first.entry.value)) continue;
        if (name.includes("@")) continue;
        const address = codeAddressOf(elf, target, first.entry);
        const offset = offsetFromLoads(loads, address, "code");
        if (offset === undefined) continue;
        unique.push({ name, address, offset, exported: defs.some((d) => d.table === ".dynsym") });
      }
      // Bounded work on big files: exported names are hash lookups; .symtab-only names cost a table scan each.
      const pick = <T>(list: T[], n: number): T[] => (list.length <= n ? list : list.filter((_, i) => i % Math.ceil(list.length / n) === 0));
      const chosen = target.isFixture
        ? unique
        : [
            ...pick(
              unique.filter((u) => u.exported),
              150,
            ),
            ...pick(
              unique.filter((u) => !u.exported),
              8,
            ),
          ];
      const m = new Mismatches();
      for (const u of chosen) {
        try {
          const found = findSymbolIn(elf, u.name);
          m.check(`${u.name} address`, found.address, u.address);
          m.check(`${u.name} fileOffset`, found.fileOffset, u.offset);
        } catch (error) {
          m.add(`${u.name} threw`, (error as Error).message, `0x${u.offset.toString(16)}`);
        }
      }
      expect(m.list).toEqual([]);
      if (unique.length > 0) expect(chosen.length).toBeGreaterThan(0);
      else if (!isDebugOnly(target))
        expect(tables.flatMap((t) => t.entries).filter((e) => e.type === STT_FUNC && e.shndx !== SHN_UNDEF && e.display !== "").length).toBe(0);
      else
        expect(
          elf.fileOffsetOf(tables.flatMap((t) => t.entries).find((e) => e.type === STT_FUNC && e.shndx !== SHN_UNDEF)?.value ?? 0n, "code"),
        ).toBeUndefined();
    }, 120_000);

    it(".gnu_debuglink matches readelf --debug-dump=links", () => {
      const elf = elfOf(target.path);
      const expected = parseDebugLink(cachedReadelf(["--debug-dump=links"], target.path));
      expect(elf.debugLink()).toEqual(expected);
      expect(expected === undefined).toBe(elf.section(".gnu_debuglink") === undefined);
    });

    it("USDT sites and the GNU build-id match readelf -nW", async () => {
      const elf = elfOf(target.path);
      const notes = parseNotes(cachedReadelf(["-nW"], target.path));
      const loads = loadsOf(target);
      const base = parseSections(cachedReadelf(["-SW"], target.path)).find((s) => s.name === ".stapsdt.base");
      expect(notes.stapsdt.length).toBe(notes.stapsdtOwners);
      expect(elf.buildId()).toBe(notes.buildIds[0]);
      const rawNotes = [...elf.notes()].filter((n) => n.name === "stapsdt" && n.n_type === 3);
      expect(rawNotes.length).toBe(notes.stapsdt.length);

      if (isDebugOnly(target) && notes.stapsdt.length > 0) {
        // A separate debug file keeps .note.stapsdt but has no code bytes
        // (its executable PT_LOAD has p_filesz 0), so no site has a file
        // offset: probec may refuse it (with a typed error) or list the
        // sites by name, but never with offsets readelf's segments deny.
        let debugSites: ReturnType<typeof readUsdtSites> | undefined;
        try {
          debugSites = readUsdtSites(elf);
        } catch (error) {
          expect(error).toBeInstanceOf(ProbecError);
        }
        if (debugSites !== undefined) {
          expect(debugSites.map((s) => `${s.provider}:${s.name} ${s.argsText}`)).toEqual(notes.stapsdt.map((n) => `${n.provider}:${n.name} ${n.args}`));
          for (const site of debugSites) expect(offsetFromLoads(loads, site.address, "code")).toBe(site.fileOffset);
        }
        return;
      }

      const sites = readUsdtSites(elf);
      const viaApi = await findUsdt(target.path);
      expect(sites.length).toBe(notes.stapsdt.length);
      expect(viaApi.length).toBe(notes.stapsdt.length);
      const m = new Mismatches();
      const mask = (1n << BigInt(elf.header.bits)) - 1n;
      for (const [i, note] of notes.stapsdt.entries()) {
        const site = sites[i];
        const api = viaApi[i];
        const where = `note ${i} ${note.provider}:${note.name}`;
        if (site === undefined || api === undefined) {
          m.add(`${where} missing`, undefined, note);
          continue;
        }
        // PITFALLS 6: adjust by .stapsdt.base only when the section exists and the note's base is not 0.
        const address = base !== undefined && note.base !== 0n ? (note.location + base.addr - note.base) & mask : note.location;
        const fileOffset = offsetFromLoads(loads, address, "code");
        const semaphoreOffset = note.semaphore === 0n ? undefined : offsetFromLoads(loads, note.semaphore, "data");
        for (const [label, s] of [
          ["readUsdtSites", site],
          ["findUsdt", api],
        ] as const) {
          m.check(`${where} ${label} provider`, s.provider, note.provider);
          m.check(`${where} ${label} name`, s.name, note.name);
          m.check(`${where} ${label} args`, s.argsText, note.args);
          m.check(`${where} ${label} address`, s.address, address);
          m.check(`${where} ${label} fileOffset`, s.fileOffset, fileOffset);
          m.check(`${where} ${label} semaphore`, s.semaphore, note.semaphore === 0n ? undefined : note.semaphore);
          m.check(`${where} ${label} semaphoreOffset`, s.semaphoreOffset, semaphoreOffset);
          // PITFALLS 10: one decoded argument per operand, at its own index, in order.
          let from = 0;
          for (const [k, arg] of s.args.entries()) {
            m.check(`${where} ${label} arg ${k} index`, arg.index, k);
            const at = note.args.indexOf(arg.spec, from);
            if (at < 0) m.add(`${where} ${label} arg ${k} spec not in order in the note`, arg.spec, note.args);
            else from = at + arg.spec.length;
          }
          m.check(`${where} ${label} every argument decoded`, s.args.length === 0, note.args.trim() === "");
        }
      }
      expect(m.list).toEqual([]);
    }, 120_000);
  });
}

describe("probec vs readelf: fixtures", () => {
  it("finds the fixtures", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
  });
  for (const target of fixtures) defineTargetTests(target);
});

describe("probec vs readelf: real binaries on this machine", () => {
  it("finds at least libstdc++ and libc", () => {
    const labels = systems.map((t) => t.path);
    expect(labels.some((p) => p.includes("libstdc++.so.6"))).toBe(true);
    expect(labels.some((p) => /\/libc\.so\.6$/.test(p) || /\/libc-[\d.]+\.so$/.test(p))).toBe(true);
  });
  for (const target of systems) defineTargetTests(target);
});

describe("ppc64 ELFv1: function symbols are .opd descriptors", () => {
  const path = join(FIXTURES, "usdt_cross_ppc64_O2");

  it("findSymbolIn resolves a FUNC symbol through its descriptor to the code's file offset", () => {
    const elf = elfOf(path);
    expect(isPpc64ElfV1(elf)).toBe(true);
    const loads = loadsOf({ label: "ppc64", path, sampleEvery: 1, isFixture: true });
    const opd = opdEntries(path);
    const functions = definedFunctions(symbolTablesOf({ label: "ppc64", path, sampleEvery: 1, isFixture: true }));
    expect(functions.length).toBeGreaterThan(0);
    const m = new Mismatches();
    for (const { entry } of functions) {
      const code = opd.get(entry.value);
      expect(code, `${entry.display} names an .opd descriptor`).toBeDefined();
      if (code === undefined) continue;
      const expected = offsetFromLoads(loads, code, "code");
      try {
        const found = findSymbolIn(elf, entry.display);
        m.check(`${entry.display} address`, found.address, code);
        m.check(`${entry.display} fileOffset`, found.fileOffset, expected);
      } catch (error) {
        m.add(`${entry.display} threw`, (error as Error).message, `code 0x${code.toString(16)} at offset 0x${expected?.toString(16)}`);
      }
    }
    expect(m.list).toEqual([]);
  });

  it("listSymbolsIn lists each function at its code's file offset, not at its .opd descriptor", () => {
    const elf = elfOf(path);
    const loads = loadsOf({ label: "ppc64", path, sampleEvery: 1, isFixture: true });
    const opd = opdEntries(path);
    const expected = definedFunctions(symbolTablesOf({ label: "ppc64", path, sampleEvery: 1, isFixture: true }))
      .map(({ entry }) => {
        const code = opd.get(entry.value) ?? entry.value;
        return `${entry.display} 0x${code.toString(16)} -> 0x${offsetFromLoads(loads, code, "code")?.toString(16)}`;
      })
      .sort();
    const listed = listSymbolsIn(elf, { types: ["func"] }).map((s) => `${s.name} 0x${s.address.toString(16)} -> 0x${s.fileOffset.toString(16)}`);
    expect(listed.sort()).toEqual(expected);
  });
});

describe("probec vs elfinfo (second oracle, small fixtures)", () => {
  for (const target of fixtures) {
    it(`${target.label}: sections, segments and symbols match elfinfo`, async () => {
      const bytes = readFileSync(target.path);
      const result = await elfinfoOpen(new Uint8Array(bytes));
      expect(result.errors).toEqual([]);
      const info = result.elf;
      expect(info).toBeDefined();
      if (info === undefined) return;
      const elf = elfOf(target.path);
      expect(elf.header.bits).toBe(info.bits);
      expect(elf.header.e_machine).toBe(info.isa as number);

      expect(
        elf.sections.map((s) => ({
          name: s.name,
          addr: s.sh_addr,
          offset: s.sh_offset,
          size: s.sh_size,
          link: s.sh_link,
          info: s.sh_info,
          entsize: s.sh_entsize,
        })),
      ).toEqual(
        // elfinfo names section 0 "<null>".
        info.sections.map((s) => ({
          name: s.index === 0 ? "" : s.name,
          addr: BigInt(s.addr),
          offset: s.offset,
          size: s.size,
          link: s.link,
          info: s.info,
          entsize: s.entsize,
        })),
      );
      expect(
        elf.programHeaders.map((p) => ({ type: p.p_type, offset: p.p_offset, vaddr: p.p_vaddr, filesz: p.p_filesz, memsz: p.p_memsz, flags: p.p_flags })),
      ).toEqual(
        info.segments.map((p) => ({
          type: p.type as number,
          offset: p.offset,
          vaddr: BigInt(p.vaddr),
          filesz: p.filesz,
          memsz: BigInt(p.memsz),
          flags: p.flags,
        })),
      );

      const symbolSections = info.sections.filter((s): s is ELFSymbolSection => Array.isArray((s as Partial<ELFSymbolSection>).symbols));
      // Without section headers elfinfo sees no tables (probec's PT_DYNAMIC stand-ins are checked against readelf above).
      const probecTables =
        elf.sections.length === 0 ? [] : (["dynsym", "symtab"] as const).map((k) => elf.symbolTable(k)).filter((t): t is SymbolTable => t !== undefined);
      expect(probecTables.map((t) => t.section.name).sort()).toEqual(symbolSections.map((s) => s.name).sort());
      const m = new Mismatches();
      for (const table of probecTables) {
        const other = symbolSections.find((s) => s.name === table.section.name);
        if (other === undefined) continue;
        m.check(`${table.section.name} count`, table.count, other.symbols.length);
        for (const raw of table.raw()) {
          const o = other.symbols[raw.index];
          const s = table.resolve(raw);
          const where = `${table.section.name}[${raw.index}]`;
          if (o === undefined) {
            m.add(`${where} missing in elfinfo`, s.name, undefined);
            continue;
          }
          // elfinfo gives the raw string-table name: `.symtab` keeps `foo@VER`, `.dynsym` has no suffix.
          m.check(`${where} name`, table.kind === "symtab" ? symtabDisplay(s.name, s.version, s.isDefaultVersion) : s.name, o.name);
          m.check(`${where} value`, s.value, BigInt(o.value));
          m.check(`${where} size`, s.size, BigInt(o.size));
          m.check(`${where} type`, s.type, o.type as number);
          m.check(`${where} binding`, s.binding, o.binding as number);
          m.check(`${where} shndx`, s.shndx, o.shndx);
        }
      }
      expect(m.list.map((line) => line.replace("readelf", "elfinfo"))).toEqual([]);
    });
  }
});
