/**
 * `locateIn(elf, "zoo_set2")`: where a LOCATION (the third part of a target)
 * lies inside one ELF file, as USDT sites or functions.
 *
 * Pure (no `node:*`): the live side (`discovery/`) and the image side
 * (`check/`) both open a file their own way and ask the same question here,
 * so a probe that `probec check` accepts is located the same way at attach.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { hex } from "../elf/fields.js";
import { findSymbolIn, type FoundSymbol } from "../elf/find-symbol.js";
import { listSymbolsIn } from "../elf/list-symbols.js";
import { NotFoundError, UsageError } from "../errors.js";
import { findGoSymbol, goNotFound, goSymbolsIn } from "../golang/symbols.js";
import { findUsdtSites, type UsdtSite } from "../usdt/notes.js";
import { cpythonTracingNeed, type CpythonTracing } from "./cpython.js";

/** Where a location lies in one ELF, and what must happen before its sites fire. */
export interface Located {
  readonly usdt: UsdtSite[] | undefined;
  readonly symbols: FoundSymbol[] | undefined;
  /** CPython 3.11's function__entry: the `python:line` semaphore that must be raised before they fire (cpython.ts). */
  readonly cpythonTracing?: CpythonTracing;
}

/**
 * The sites of `location` in `elf`: USDT sites for `provider:name` (globs
 * allowed), functions for a symbol, glob, `sym+0x10` or raw address. Throws
 * the typed error of the lookup (naming what exists) when nothing matches.
 */
export function locateIn(elf: ElfFile, location: string | undefined, options: { readonly allowIfunc?: boolean } = {}): Located {
  if (location === undefined) return { usdt: undefined, symbols: undefined };
  const colon = location.indexOf(":");
  if (colon >= 0) {
    const provider = location.slice(0, colon) || "*";
    const name = location.slice(colon + 1) || "*";
    const usdt = findUsdtSites(elf, { provider, name });
    const cpythonTracing = cpythonTracingNeed(elf, usdt);
    return { usdt, symbols: undefined, ...(cpythonTracing === undefined ? {} : { cpythonTracing }) };
  }
  return { usdt: undefined, symbols: findLocation(elf, location, options) };
}

/**
 * A symbol, `sym+0x10`, a glob, or a raw address `0x…`. A Go binary whose
 * ELF symbols lack the name (`-ldflags='-s -w'`) is searched through its
 * pclntab (`golang/symbols.ts`), by the names Go prints.
 */
function findLocation(elf: ElfFile, location: string, options: { readonly allowIfunc?: boolean }): FoundSymbol[] {
  if (/^0x[0-9a-f]+$/i.test(location)) {
    const address = BigInt(location);
    const fileOffset = elf.fileOffsetOf(address, "code");
    if (fileOffset === undefined) throw new NotFoundError(`${elf.name}: address ${location} is not inside an executable segment`);
    return [{ file: elf.name, name: hex(address), version: null, isDefaultVersion: true, address, fileOffset, size: 0, type: "address", binding: "none" }];
  }
  if (/[*?[]/.test(location)) {
    // A Go name holds `*` and `[` of its own (`net/http.(*conn).serve`, `main.Map[...].Get`): as written, it is one function.
    const exact = elf.symbolTable("symtab") === undefined ? findGoSymbol(elf, location) : undefined;
    if (exact !== undefined) return [exact];
    let found = listSymbolsIn(elf, { pattern: location });
    if (elf.symbolTable("symtab") === undefined) found = mergeGo(found, goSymbolsIn(elf, location));
    if (found.length === 0)
      throw new NotFoundError(`${elf.name}: no function matches "${location}"`, [`list them: probec list ${elf.name.split(":")[0]}:… --functions`]);
    return found;
  }
  const plus = /^(.+)\+(0x[0-9a-f]+|[0-9]+)$/i.exec(location);
  const symbol = findSymbolOrGo(elf, plus?.[1] ?? location, options);
  if (plus === null) return [symbol];
  const offset = Number(plus[2]);
  if (symbol.size > 0 && offset >= symbol.size) {
    throw new UsageError(`${elf.name}: ${location} is past the end of ${symbol.name} (${symbol.size} bytes)`);
  }
  return [{ ...symbol, name: location, address: symbol.address + BigInt(offset), fileOffset: symbol.fileOffset + offset }];
}

function findSymbolOrGo(elf: ElfFile, name: string, options: { readonly allowIfunc?: boolean }): FoundSymbol {
  try {
    return findSymbolIn(elf, name, { allowIfunc: options.allowIfunc ?? false });
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const go = findGoSymbol(elf, name);
    if (go === undefined) throw goNotFound(elf, name) ?? error;
    return go;
  }
}

/** ELF symbols plus the Go functions at addresses they do not already name, sorted by name then address. */
function mergeGo(elfSymbols: FoundSymbol[], go: FoundSymbol[]): FoundSymbol[] {
  if (go.length === 0) return elfSymbols;
  const seen = new Set(elfSymbols.map((s) => s.address));
  const merged = [...elfSymbols, ...go.filter((s) => !seen.has(s.address))];
  return merged.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
