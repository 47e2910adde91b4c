/**
 * Resolving `sym(%rip)` USDT arguments to addresses.
 *
 * GCC writes a global or static variable passed to a probe as
 * `8@counter(%rip)` or `-4@table+8(%rip)`: the value is in memory at the
 * symbol's address plus the addend (plus the load bias at run time). The
 * name must be found in the file's `.symtab` or `.dynsym`, or in a debug file
 * for a stripped binary; otherwise the argument cannot be read, and it
 * becomes an explicit `unsupported` entry rather than a read of garbage
 * (PITFALLS 13).
 */
import { SHN_UNDEF, STT_COMMON, STT_NOTYPE, STT_OBJECT, STT_TLS } from "../elf/constants.js";
import type { ElfFile } from "../elf/elf-file.js";
import { nameBytes } from "../elf/string-table.js";
import { symbolType, type SymbolTable } from "../elf/symbols.js";
import type { UsdtArg } from "./args/types.js";

/** A file whose symbol tables can name variables: the binary itself or its debug file. */
export type SymbolSource = ElfFile;

/** Fills `address` in every `symbol` argument, or turns it into `unsupported` when no source defines the symbol. */
export function resolveArgSymbols(elf: ElfFile, args: readonly UsdtArg[], extra: readonly SymbolSource[]): UsdtArg[] {
  if (!args.some((a) => a.kind === "symbol")) return [...args];
  const sources = [elf, ...extra];
  return args.map((arg) => {
    if (arg.kind !== "symbol" || arg.address !== undefined) return arg;
    const address = lookupVariable(sources, arg.symbol);
    if (address !== undefined) return { ...arg, address };
    const { index, spec, size, signed } = arg;
    return {
      kind: "unsupported",
      reason: `argument refers to symbol "${arg.symbol}", which neither ${elf.name} nor its debug file defines; install the debug symbols to read it`,
      symbol: arg.symbol,
      index,
      spec,
      size,
      signed,
    } satisfies UsdtArg;
  });
}

/** Per-file cache, so that 500 sites naming one variable cost one table scan. */
const cache = new WeakMap<ElfFile, Map<string, bigint | null>>();

function lookupVariable(sources: readonly SymbolSource[], name: string): bigint | undefined {
  for (const source of sources) {
    let known = cache.get(source);
    if (known === undefined) cache.set(source, (known = new Map()));
    let address = known.get(name);
    if (address === undefined) {
      address = findVariable(source, name) ?? null;
      known.set(name, address);
    }
    if (address !== null) return address;
  }
  return undefined;
}

function findVariable(elf: ElfFile, name: string): bigint | undefined {
  const bytes = nameBytes(name);
  const dynsym = elf.symbolTable("dynsym");
  const hash = elf.dynamicHash();
  if (dynsym !== undefined && hash !== undefined) {
    const hit = firstDefined(dynsym, hash.lookup(bytes));
    if (hit !== undefined) return hit;
  }
  for (const table of [elf.symbolTable("symtab"), hash === undefined ? dynsym : undefined]) {
    if (table === undefined) continue;
    const indexes: number[] = [];
    for (const raw of table.raw()) {
      if (raw.st_name !== 0 && table.strings.equals(raw.st_name, bytes)) indexes.push(raw.index);
    }
    const hit = firstDefined(table, indexes);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function firstDefined(table: SymbolTable, indexes: readonly number[]): bigint | undefined {
  for (const index of indexes) {
    const raw = table.rawAt(index);
    const type = symbolType(raw);
    if (raw.st_shndx === SHN_UNDEF || type === STT_TLS) continue;
    if (type === STT_OBJECT || type === STT_NOTYPE || type === STT_COMMON) return raw.st_value;
  }
  return undefined;
}
