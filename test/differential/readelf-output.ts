/**
 * Runs GNU `readelf` and parses the parts of its text output that the
 * differential tests compare with probec: `-nW` (notes: GNU build-id and
 * SystemTap probe descriptors), `-sW --dyn-syms` (symbol tables), `-lW`
 * (PT_LOAD segments) and `-SW` (section headers).
 *
 * The parsers know readelf 2.40's layout, e.g.
 *
 *     stapsdt   0x0000002b  NT_STAPSDT (SystemTap probe descriptors)      Provider: sema
 *       Name: plain
 *       Location: 0x0000000000001154, Base: 0x0000000000002004, Semaphore: 0x0000000000004010
 *       Arguments: -4@%edi
 *
 *        7: 0000000000001100     4 FUNC    GLOBAL DEFAULT   11 vfunc@VER_1
 *       11: 00000000100001c0   140 FUNC    GLOBAL DEFAULT [<localentry>: 8]     2 cross_entry
 *
 * and fail loudly (with the line) on anything they do not recognise, so a
 * new readelf layout breaks the test instead of silently comparing nothing.
 */
import { execFileSync } from "node:child_process";

/** Runs `readelf args… file` in the C locale and returns stdout (warnings on stderr are ignored). */
export function readelf(args: readonly string[], file: string): string {
  return execFileSync("readelf", [...args, file], {
    encoding: "utf8",
    maxBuffer: 1024 * 1024 * 1024,
    env: { ...process.env, LC_ALL: "C" },
    stdio: ["ignore", "pipe", "ignore"],
  });
}

/** One `NT_STAPSDT` note as readelf prints it: the raw note fields. */
export interface ReadelfStapsdt {
  readonly provider: string;
  readonly name: string;
  /** The raw note pc (readelf does not apply the `.stapsdt.base` rule). */
  readonly location: bigint;
  readonly base: bigint;
  readonly semaphore: bigint;
  readonly args: string;
}

/** What `readelf -nW` says about one file. */
export interface ReadelfNotes {
  /** Every "Build ID:" value, in order (normally one). */
  readonly buildIds: string[];
  readonly stapsdt: ReadelfStapsdt[];
  /** Count of note lines whose owner is `stapsdt` (to check nothing was skipped). */
  readonly stapsdtOwners: number;
}

const STAPSDT_HEAD = /^\s+stapsdt\s+0x[0-9a-f]+\s+NT_STAPSDT \(SystemTap probe descriptors\)\s+Provider: (.*)$/;
const STAPSDT_NAME = /^\s+Name: (.*)$/;
const STAPSDT_LOCATION = /^\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)$/;
const STAPSDT_ARGS = /^\s+Arguments:(?: (.*))?$/;
const BUILD_ID = /^\s+GNU\s+0x[0-9a-f]+\s+NT_GNU_BUILD_ID \(unique build ID bitstring\)\s+Build ID: ([0-9a-f]+)$/;

/** Parses `readelf -nW` output. */
export function parseNotes(text: string): ReadelfNotes {
  const lines = text.split("\n");
  const buildIds: string[] = [];
  const stapsdt: ReadelfStapsdt[] = [];
  let stapsdtOwners = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const build = BUILD_ID.exec(line);
    if (build !== null) buildIds.push(build[1] ?? "");
    if (/^\s+stapsdt\s+0x/.test(line)) stapsdtOwners++;
    const head = STAPSDT_HEAD.exec(line);
    if (head === null) continue;
    const name = STAPSDT_NAME.exec(lines[i + 1] ?? "");
    const location = STAPSDT_LOCATION.exec(lines[i + 2] ?? "");
    const args = STAPSDT_ARGS.exec(lines[i + 3] ?? "");
    if (name === null || location === null || args === null) {
      throw new Error(`readelf -n: unrecognised stapsdt note at line ${i + 1}:\n${lines.slice(i, i + 4).join("\n")}`);
    }
    stapsdt.push({
      provider: head[1] ?? "",
      name: name[1] ?? "",
      location: BigInt(location[1] ?? "0"),
      base: BigInt(location[2] ?? "0"),
      semaphore: BigInt(location[3] ?? "0"),
      args: args[1] ?? "",
    });
    i += 3;
  }
  return { buildIds, stapsdt, stapsdtOwners };
}

/** How readelf rendered a `.dynsym` entry's version. */
export type VersionKind = "none" | "default" | "hidden" | "needed";

/** One row of `readelf -sW`. */
export interface ReadelfSymbol {
  readonly index: number;
  readonly value: bigint;
  readonly size: bigint;
  /** `STT_*` value decoded from readelf's type column. */
  readonly type: number;
  /** `STB_*` value decoded from readelf's bind column. */
  readonly bind: number;
  /** `STV_*` value. */
  readonly visibility: number;
  /** ppc64 ELFv2: readelf's `[<localentry>: N]`, the local entry point's distance from the global one (0 when absent). */
  readonly localEntry: number;
  /** Section index (`UND` 0, `ABS` 0xfff1, `COM` 0xfff2). */
  readonly shndx: number;
  /** The name column as printed, including any `@VER`/`@@VER`/` (N)` suffix. */
  readonly display: string;
  /** For `.dynsym`: the name without the version suffix; for `.symtab`: the same as `display`. */
  readonly name: string;
  /** For `.dynsym`: the version readelf printed, if any. */
  readonly version: string | undefined;
  readonly versionKind: VersionKind;
}

/** One symbol table of `readelf -sW` output. */
export interface ReadelfSymbolTable {
  /** `.dynsym`, `.symtab`. */
  readonly section: string;
  /** "contains N entries", entry 0 included. */
  readonly count: number;
  readonly entries: ReadelfSymbol[];
}

const TABLE_HEAD = /^Symbol table '([^']*)' contains (\d+) entr(?:y|ies):$/;
const SYMBOL_ROW =
  /^\s*(\d+): ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+) (<[^>]*>: \d+|\S+)\s+(<[^>]*>: \d+|\S+)\s+(\S+)(?:\s+\[([^\]]*)\])?\s+(UND|ABS|COM|\d+|[A-Z]+ ?\[0x[0-9a-f]+\]) ?(.*)$/;

const TYPES: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, IFUNC: 10 };
const BINDS: Record<string, number> = { LOCAL: 0, GLOBAL: 1, WEAK: 2, UNIQUE: 10 };
const VISIBILITIES: Record<string, number> = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 };

/** Parses `readelf -sW [--dyn-syms]` output into its tables. */
export function parseSymbols(text: string): ReadelfSymbolTable[] {
  const tables: ReadelfSymbolTable[] = [];
  let current: ReadelfSymbolTable | undefined;
  for (const line of text.split("\n")) {
    const head = TABLE_HEAD.exec(line);
    if (head !== null) {
      current = { section: head[1] ?? "", count: Number(head[2]), entries: [] };
      tables.push(current);
      continue;
    }
    if (!/^\s*\d+: /.test(line)) continue;
    if (current === undefined) throw new Error(`readelf -s: symbol row before any table header: ${line}`);
    const m = SYMBOL_ROW.exec(line);
    if (m === null) throw new Error(`readelf -s: unrecognised symbol row: ${JSON.stringify(line)}`);
    const display = m[9] ?? "";
    const other = m[7] ?? "";
    const localEntry = /^<localentry>: (\d+)$/.exec(other);
    const isDynamic = current.section === ".dynsym";
    const split = isDynamic ? splitVersion(display) : { name: display, version: undefined, versionKind: "none" as const };
    current.entries.push({
      index: Number(m[1]),
      value: BigInt(`0x${m[2]}`),
      size: BigInt(m[3] ?? "0"),
      type: decodeColumn(TYPES, m[4] ?? "", line),
      bind: decodeColumn(BINDS, m[5] ?? "", line),
      visibility: decodeColumn(VISIBILITIES, m[6] ?? "", line),
      localEntry: localEntry === null ? 0 : Number(localEntry[1]),
      shndx: decodeShndx(m[8] ?? "", line),
      display,
      ...split,
    });
  }
  return tables;
}

/** Splits readelf's `.dynsym` name column: `name@@VER`, `name@VER`, `name@VER (N)` or plain `name`. */
export function splitVersion(display: string): { name: string; version: string | undefined; versionKind: VersionKind } {
  const needed = /^(.*)@([^@]*) \((\d+)\)$/.exec(display);
  if (needed !== null) return { name: needed[1] ?? "", version: needed[2], versionKind: "needed" };
  const at = display.lastIndexOf("@");
  if (at <= 0) return { name: display, version: undefined, versionKind: "none" };
  if (display[at - 1] === "@" && at >= 2) return { name: display.slice(0, at - 1), version: display.slice(at + 1), versionKind: "default" };
  return { name: display.slice(0, at), version: display.slice(at + 1), versionKind: "hidden" };
}

function decodeColumn(table: Record<string, number>, text: string, line: string): number {
  const known = table[text];
  if (known !== undefined) return known;
  const numbered = /: (\d+)$/.exec(text);
  if (numbered !== null) return Number(numbered[1]);
  throw new Error(`readelf -s: unknown column value ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
}

function decodeShndx(text: string, line: string): number {
  if (text === "UND") return 0;
  if (text === "ABS") return 0xfff1;
  if (text === "COM") return 0xfff2;
  if (/^\d+$/.test(text)) return Number(text);
  const reserved = /\[(0x[0-9a-f]+)\]$/.exec(text);
  if (reserved !== null) return Number(reserved[1]);
  throw new Error(`readelf -s: unknown section index ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
}

/** One `LOAD` row of `readelf -lW`. */
export interface ReadelfLoad {
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: bigint;
  /** `PF_*` bits decoded from the `Flg` column (`R E` → 5). */
  readonly flags: number;
  readonly align: bigint;
}

const LOAD_ROW = /^\s+LOAD\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) ([R ][W ][E ]) (0x[0-9a-f]+)$/;

/** Parses the `LOAD` rows of `readelf -lW` output, in order. */
export function parseLoads(text: string): ReadelfLoad[] {
  const loads: ReadelfLoad[] = [];
  for (const line of text.split("\n")) {
    if (!/^\s+LOAD\s/.test(line)) continue;
    const m = LOAD_ROW.exec(line);
    if (m === null) throw new Error(`readelf -l: unrecognised LOAD row: ${JSON.stringify(line)}`);
    const flg = m[6] ?? "   ";
    loads.push({
      offset: Number(m[1]),
      vaddr: BigInt(m[2] ?? "0"),
      paddr: BigInt(m[3] ?? "0"),
      filesz: Number(m[4]),
      memsz: BigInt(m[5] ?? "0"),
      flags: (flg[0] === "R" ? 4 : 0) | (flg[1] === "W" ? 2 : 0) | (flg[2] === "E" ? 1 : 0),
      align: BigInt(m[7] ?? "0"),
    });
  }
  return loads;
}

/** One row of `readelf -SW`. */
export interface ReadelfSection {
  readonly index: number;
  readonly name: string;
  readonly type: string;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly entsize: number;
  readonly flags: string;
  readonly link: number;
  readonly info: number;
  readonly align: bigint;
}

const SECTION_ROW = /^\s+\[\s*(\d+)\] (.*?)\s*\s(\S+)\s+([0-9a-f]{8,16}) ([0-9a-f]{6,}) ([0-9a-f]{6,}) ([0-9a-f]{2,})\s+([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)$/;

/** Parses the section rows of `readelf -SW` output. */
export function parseSections(text: string): ReadelfSection[] {
  const sections: ReadelfSection[] = [];
  for (const line of text.split("\n")) {
    if (!/^\s+\[\s*\d+\] /.test(line)) continue;
    const m = SECTION_ROW.exec(line);
    if (m === null) throw new Error(`readelf -S: unrecognised section row: ${JSON.stringify(line)}`);
    sections.push({
      index: Number(m[1]),
      name: m[2] ?? "",
      type: m[3] ?? "",
      addr: BigInt(`0x${m[4]}`),
      offset: Number(`0x${m[5]}`),
      size: Number(`0x${m[6]}`),
      entsize: Number(`0x${m[7]}`),
      flags: m[8] ?? "",
      link: Number(m[9]),
      info: Number(m[10]),
      align: BigInt(m[11] ?? "0"),
    });
  }
  return sections;
}

/**
 * The file offset of `vaddr` by readelf's segments, with PITFALLS 1/7's
 * rule: code in an executable PT_LOAD's file-backed part, data in a
 * non-executable PT_LOAD's memory image.
 */
export function offsetFromLoads(loads: readonly ReadelfLoad[], vaddr: bigint, kind: "code" | "data"): number | undefined {
  for (const load of loads) {
    const isCode = (load.flags & 1) !== 0;
    if (isCode !== (kind === "code")) continue;
    const extent = kind === "code" ? BigInt(load.filesz) : load.memsz;
    if (vaddr >= load.vaddr && vaddr < load.vaddr + extent) return Number(vaddr - load.vaddr + BigInt(load.offset));
  }
  return undefined;
}

/** The first `.gnu_debuglink` that `readelf --debug-dump=links` shows, or undefined. */
export function parseDebugLink(text: string): { fileName: string; crc: number } | undefined {
  const name = /^\s+Separate debug info file: (.*)$/m.exec(text);
  const crc = /^\s+CRC value: 0x([0-9a-f]+)$/m.exec(text);
  if (name === null || crc === null) return undefined;
  return { fileName: name[1] ?? "", crc: Number.parseInt(crc[1] ?? "", 16) };
}
