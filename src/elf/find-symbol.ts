/**
 * `findSymbol`: one function's name → its file offset, by the rules a
 * uprobe user needs (PITFALLS 1–4):
 *
 * - `name`, `name@VER` and `name@@VER`; a bare name picks the default
 *   version (`@@`), as the dynamic loader does for a new reference;
 * - weak loses to non-weak; two non-weak definitions at different
 *   addresses are an error listing both (aliases at one address are one
 *   function);
 * - an `STT_GNU_IFUNC` is refused unless the caller opts in, naming the
 *   implementations the resolver may pick;
 * - the offset comes from the executable `PT_LOAD` holding the address.
 *
 * Lookup order: the dynamic hash table first (a few hundred bytes read),
 * and only when that finds no exported definition, a scan of `.symtab`.
 * That shortcut is exact: in a linked object every non-local name is
 * defined once, and `.symtab` repeats `.dynsym`'s definitions. A bare name
 * exported once, unversioned, is found by a shorter path still, with less
 * code to compile on a cold first call (exported-symbol.ts).
 */
import { AmbiguousError, IfuncError, inFile, NotFoundError, UsageError } from "../errors.js";
import { readRange } from "../io/byte-source.js";
import { EM_ARM, EM_PPC64, SHN_UNDEF, STB_LOCAL, STB_WEAK, STT_FILE, STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE, STT_SECTION } from "./constants.js";
import type { ElfFile } from "./elf-file.js";
import { findExported } from "./exported-symbol.js";
import { Fields, hex } from "./fields.js";
import { nearest } from "../suggest.js";
import { nameBytes } from "./string-table.js";
import { bindingName, symbolType, typeName, type ElfSymbol, type SymbolTable } from "./symbols.js";

/** A symbol request split into its parts. */
export interface SymbolRequest {
  readonly name: string;
  /** Version wanted, when the request named one. */
  readonly version?: string;
  /** True for `name@@VER`: the version must be the default one. */
  readonly requireDefault: boolean;
}

/** Options for {@link findSymbolIn}. */
export interface FindSymbolOptions {
  /**
   * Accept an `STT_GNU_IFUNC` and return the resolver's own offset. Off by
   * default: the resolver runs once at load time, so a probe there almost
   * never fires (PITFALLS 3).
   */
  readonly allowIfunc?: boolean;
  /**
   * Files whose symbol tables stand in for this one's when it lacks the
   * name: the debug file of a stripped binary. Offsets always come from the
   * probed file's own program headers (PITFALLS 5).
   */
  readonly symbolSources?: readonly ElfFile[];
}

/** A function located in a file: everything a uprobe needs, and what to print. */
export interface FoundSymbol {
  /** The file's name as the caller gave it. */
  readonly file: string;
  readonly name: string;
  /** Symbol version (`GLIBC_2.14`), or null when unversioned. */
  readonly version: string | null;
  /** False for a hidden, non-default version (`name@VER`); true for `name@@VER` and unversioned names. */
  readonly isDefaultVersion: boolean;
  /**
   * Link-time address of the instruction a probe goes on: st_value, except
   * on ARM (Thumb bit cleared), ppc64 ELFv1 (the entry point in the `.opd`
   * descriptor) and ppc64 ELFv2 (the local entry point), see `codeAddress`.
   */
  readonly address: bigint;
  /** Offset in the file, for `uprobe` attachment. */
  readonly fileOffset: number;
  readonly size: number;
  /** `func`, `ifunc`, `notype`, … */
  readonly type: string;
  /** `global`, `weak`, `local`, `unique`. */
  readonly binding: string;
}

/** Splits `name`, `name@VER` or `name@@VER`. */
export function parseSymbolRequest(text: string): SymbolRequest {
  const at = text.indexOf("@");
  if (at < 0) return { name: text, requireDefault: false };
  const isDouble = text[at + 1] === "@";
  const name = text.slice(0, at);
  const version = text.slice(at + (isDouble ? 2 : 1));
  if (name === "" || version === "" || version.includes("@")) {
    throw new UsageError(`symbol "${text}" is malformed`, ["write name, name@VERSION or name@@VERSION"]);
  }
  return { name, version, requireDefault: isDouble };
}

/** Finds one function in `elf`; see the module comment for the rules. Errors name the file. */
export function findSymbolIn(elf: ElfFile, request: string, options: FindSymbolOptions = {}): FoundSymbol {
  try {
    return findSymbolUnwrapped(elf, request, options);
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

function findSymbolUnwrapped(elf: ElfFile, request: string, options: FindSymbolOptions): FoundSymbol {
  const wanted = parseSymbolRequest(request);
  // The short path (exported-symbol.ts) answers only where the rules of findByRules would choose this one symbol.
  const exported = wanted.version === undefined ? findExported(elf, wanted.name, options.allowIfunc === true) : undefined;
  if (exported !== undefined) return exported;
  return findByRules(elf, request, wanted, options);
}

/** The lookup by the rules of the module comment, in `elf` and then in its symbol sources. */
function findByRules(elf: ElfFile, request: string, wanted: SymbolRequest, options: FindSymbolOptions): FoundSymbol {
  const sources = [elf, ...(options.symbolSources ?? [])];
  let candidates: ElfSymbol[] = [];
  for (const source of sources) {
    candidates = definitionsOf(source, wanted);
    if (candidates.length > 0) break;
  }
  if (candidates.length === 0) throw notFound(elf, sources, request, wanted);
  const chosen = choose(elf, request, preferDefaultVersion(candidates, wanted));
  if (chosen.type === STT_GNU_IFUNC && options.allowIfunc !== true) throw ifuncError(elf, sources, chosen);
  return locate(elf, chosen);
}

/** The definitions of `wanted` in one file: `.dynsym` through its hash table, then `.symtab` when no exported one matched. */
function definitionsOf(elf: ElfFile, wanted: SymbolRequest): ElfSymbol[] {
  const exported = matchVersion(definitionsIn(elf, wanted.name, "dynsym"), wanted);
  if (exported.some((s) => s.binding !== STB_LOCAL)) return exported;
  return dedupe([...exported, ...matchVersion(definitionsIn(elf, wanted.name, "symtab"), wanted)]);
}

/**
 * Converts a resolved symbol to a {@link FoundSymbol}, computing its file
 * offset from the program headers: an executable segment for code, a
 * non-executable one for `data` (variables, semaphores).
 */
export function locate(elf: ElfFile, symbol: ElfSymbol, kind: "code" | "data" = "code"): FoundSymbol {
  const found = locateIfInside(elf, symbol, kind);
  if (found === undefined) {
    const where = kind === "code" ? "an executable" : "a data";
    const address = kind === "code" ? codeAddress(elf, symbol) : symbol.value;
    throw new NotFoundError(`${elf.name}: symbol "${symbol.name}" at ${hex(address)} is not inside ${where} PT_LOAD segment`);
  }
  return found;
}

/** {@link locate}, or undefined when no segment of that kind holds the symbol (a listing skips it). */
export function locateIfInside(elf: ElfFile, symbol: ElfSymbol, kind: "code" | "data" = "code"): FoundSymbol | undefined {
  const address = kind === "code" ? codeAddress(elf, symbol) : symbol.value;
  const fileOffset = elf.fileOffsetOf(address, kind);
  if (fileOffset === undefined) return undefined;
  return {
    file: elf.name,
    name: symbol.name,
    version: symbol.version ?? null,
    isDefaultVersion: symbol.isDefaultVersion,
    address,
    fileOffset,
    size: Number(symbol.size),
    type: typeName(symbol.type),
    binding: bindingName(symbol.binding),
  };
}

/** True for symbol types a uprobe can sit on: functions, IFUNC resolvers and untyped assembly labels. */
export function isCodeType(type: number): boolean {
  return type === STT_FUNC || type === STT_GNU_IFUNC || type === STT_NOTYPE;
}

/**
 * Where the code of a function symbol really starts:
 *
 * - ARM marks Thumb functions by setting bit 0 of st_value; the instruction
 *   is at the even address.
 * - ppc64 ELFv1 (big-endian, `e_flags` ABI 0 or 1) function symbols point at
 *   a descriptor in `.opd` whose first doubleword is the entry address.
 * - ppc64 ELFv2 functions that set up a TOC have a global entry point (the
 *   symbol) and a local entry point a few instructions later, encoded in
 *   st_other bits 5-7 (ABI §3.4.1). Calls from inside the object enter at
 *   the local one, so a probe goes there: every call passes it.
 */
export function codeAddress(elf: ElfFile, symbol: ElfSymbol): bigint {
  const machine = elf.header.e_machine;
  return machine === EM_ARM || machine === EM_PPC64 ? armOrPpc64CodeAddress(elf, symbol) : symbol.value;
}

/** {@link codeAddress} on ARM and ppc64 (apart, so that a lookup elsewhere compiles none of it). */
function armOrPpc64CodeAddress(elf: ElfFile, symbol: ElfSymbol): bigint {
  const machine = elf.header.e_machine;
  if (machine === EM_ARM && symbol.type === STT_FUNC) return symbol.value & ~1n;
  if (machine !== EM_PPC64 || symbol.type !== STT_FUNC) return symbol.value;
  const abi = elf.header.e_flags & 3;
  if (abi !== 2 && elf.fileOffsetOf(symbol.value, "code") === undefined) {
    const descriptor = elf.fileOffsetOf(symbol.value, "data");
    if (descriptor === undefined) return symbol.value;
    return new Fields(readRange(elf.source, descriptor, 8, ".opd descriptor"), elf.header).u64(0);
  }
  const localEntry = symbol.other >> 5;
  return localEntry >= 2 && localEntry <= 6 ? symbol.value + BigInt(1 << localEntry) : symbol.value;
}

/** Every defined code symbol called `name` in one table, via the hash table when there is one. */
function definitionsIn(elf: ElfFile, name: string, kind: "dynsym" | "symtab"): ElfSymbol[] {
  const table = elf.symbolTable(kind);
  if (table === undefined) return [];
  const bytes = nameBytes(name);
  const hash = kind === "dynsym" ? elf.dynamicHash() : undefined;
  const indexes = hash !== undefined ? hash.lookup(bytes) : scan(table, bytes);
  const found: ElfSymbol[] = [];
  for (const index of indexes) {
    const raw = table.rawAt(index);
    if (raw.st_shndx === SHN_UNDEF || !isCodeType(symbolType(raw))) continue;
    const symbol = table.resolve(raw);
    if (symbol.name === name) found.push(symbol);
  }
  return found;
}

function scan(table: SymbolTable, bytes: Uint8Array): number[] {
  const indexes: number[] = [];
  const orVersioned = table.kind === "symtab";
  for (const raw of table.raw()) {
    const type = symbolType(raw);
    if (type === STT_SECTION || type === STT_FILE || raw.st_name === 0) continue;
    if (table.strings.equals(raw.st_name, bytes, orVersioned)) indexes.push(raw.index);
  }
  return indexes;
}

function matchVersion(symbols: ElfSymbol[], wanted: SymbolRequest): ElfSymbol[] {
  if (wanted.version === undefined) return symbols;
  return symbols.filter((s) => s.version === wanted.version && (!wanted.requireDefault || s.isDefaultVersion));
}

/** A bare name means the default version when one exists (glibc: `memcpy` is `memcpy@@GLIBC_2.14`). */
function preferDefaultVersion(symbols: ElfSymbol[], wanted: SymbolRequest): ElfSymbol[] {
  if (wanted.version !== undefined) return symbols;
  const defaults = symbols.filter((s) => s.isDefaultVersion);
  return defaults.length > 0 ? defaults : symbols;
}

/** One entry per (address, version): the same function seen in `.dynsym` and `.symtab`, or aliased. */
function dedupe(symbols: ElfSymbol[]): ElfSymbol[] {
  const seen = new Map<string, ElfSymbol>();
  for (const s of symbols) {
    const key = `${s.value}:${s.version ?? ""}`;
    const previous = seen.get(key);
    // Keep the dynamic entry when both exist: it carries the versym-derived version.
    if (previous === undefined || (previous.table === "symtab" && s.table === "dynsym")) seen.set(key, s);
  }
  return [...seen.values()];
}

function choose(elf: ElfFile, request: string, symbols: ElfSymbol[]): ElfSymbol {
  const unique = dedupeByAddress(symbols);
  const strong = unique.filter((s) => s.binding !== STB_WEAK);
  const pool = strong.length > 0 ? strong : unique;
  if (pool.length === 1) return pool[0] as ElfSymbol;
  throw new AmbiguousError(
    `${elf.name}: "${request}" has ${pool.length} different ${strong.length > 0 ? "non-weak" : "weak"} definitions`,
    pool.map(describe),
    ["name one of them by its address, or by name@VERSION where the versions differ"],
  );
}

function dedupeByAddress(symbols: ElfSymbol[]): ElfSymbol[] {
  const byAddress = new Map<bigint, ElfSymbol>();
  for (const s of symbols) {
    const previous = byAddress.get(s.value);
    if (previous === undefined || (previous.binding === STB_WEAK && s.binding !== STB_WEAK)) byAddress.set(s.value, s);
  }
  return [...byAddress.values()];
}

function describe(s: ElfSymbol): string {
  const version = s.version === undefined ? "" : `${s.isDefaultVersion ? "@@" : "@"}${s.version}`;
  return `${s.name}${version} (${bindingName(s.binding)} ${typeName(s.type)} at ${hex(s.value)} in ${s.table === "dynsym" ? ".dynsym" : ".symtab"})`;
}

function notFound(elf: ElfFile, sources: readonly ElfFile[], request: string, wanted: SymbolRequest): NotFoundError {
  if (wanted.version !== undefined) {
    const unversioned = { name: wanted.name, requireDefault: false };
    const versions = dedupe(sources.flatMap((source) => definitionsOf(source, unversioned))).map(
      (s) => `${s.name}${s.isDefaultVersion ? "@@" : "@"}${s.version ?? ""}`,
    );
    if (versions.length > 0) return new NotFoundError(`${elf.name}: symbol "${request}" not found`, [`versions that exist: ${versions.join(", ")}`]);
  }
  const hasSymbols = sources.some((source) => source.symbolTable("symtab") !== undefined || source.symbolTable("dynsym") !== undefined);
  const near = hasSymbols ? nearest(wanted.name, codeSymbolNames(sources)) : [];
  const hints = !hasSymbols
    ? ["the file has no symbol tables (stripped); install its debug symbols"]
    : near.length > 0
      ? [`did you mean ${near.map((n) => `"${n}"`).join(" or ")}?`]
      : [`list what exists with: probec list ${elf.name} '*${wanted.name.slice(0, 4)}*' --functions`];
  return new NotFoundError(`${elf.name}: symbol "${request}" not found`, hints);
}

/** Every defined code symbol's name in `sources`, for "did you mean" hints. */
function* codeSymbolNames(sources: readonly ElfFile[]): Generator<string> {
  for (const table of sources.flatMap((source) => [source.symbolTable("dynsym"), source.symbolTable("symtab")])) {
    if (table === undefined) continue;
    for (const raw of table.raw()) {
      if (raw.st_shndx !== SHN_UNDEF && raw.st_name !== 0 && isCodeType(symbolType(raw))) yield table.strings.get(raw.st_name).replace(/@.*/, "");
    }
  }
}

/**
 * Names the implementations an IFUNC resolver chooses among, by the
 * naming convention glibc and most libraries follow: `__NAME_VARIANT` or
 * `NAME_VARIANT` (e.g. `__strlen_avx2`, `__strlen_sse2`).
 */
export function ifuncCandidates(sources: readonly ElfFile[], name: string, resolverAddress?: bigint): string[] {
  const prefixes = [`__${name}_`, `${name}_`];
  const names = new Set<string>();
  for (const table of sources.flatMap((source) => [source.symbolTable("symtab"), source.symbolTable("dynsym")])) {
    if (table === undefined) continue;
    for (const raw of table.raw()) {
      if (raw.st_shndx === SHN_UNDEF || symbolType(raw) !== STT_FUNC || raw.st_name === 0) continue;
      // The resolver itself (often `NAME_resolver`, or a local alias) sits at the IFUNC's own address.
      if (raw.st_value === resolverAddress) continue;
      const candidate = table.strings.get(raw.st_name);
      if (prefixes.some((p) => candidate.startsWith(p))) names.add(candidate);
    }
  }
  return [...names].sort();
}

function ifuncError(elf: ElfFile, sources: readonly ElfFile[], symbol: ElfSymbol): IfuncError {
  const candidates = ifuncCandidates(sources, symbol.name, symbol.value);
  const listed =
    candidates.length > 0
      ? `; its implementations here: ${candidates.join(", ")}`
      : "; this file names no implementations (install its debug symbols to see them)";
  return new IfuncError(
    `${elf.name}: "${symbol.name}" is an IFUNC: its address ${hex(symbol.value)} is the resolver, which runs once at load time, so a probe there would not fire on calls${listed}`,
    candidates,
    candidates.length > 0
      ? [`probe an implementation instead, e.g. ${candidates[0]}`, "or pass --allow-ifunc (allowIfunc: true) to probe the resolver itself"]
      : ["pass --allow-ifunc (allowIfunc: true) to probe the resolver itself"],
  );
}
