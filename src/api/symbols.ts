/**
 * The public symbol API: `findSymbol` and `listSymbols`, over any
 * {@link ElfInput}, consulting debug files for stripped binaries.
 */
import { NotFoundError, IfuncError } from "../errors.js";
import type { ElfFile } from "../elf/elf-file.js";
import { findSymbolIn, type FindSymbolOptions, type FoundSymbol } from "../elf/find-symbol.js";
import { listSymbolsIn, type ListSymbolsOptions } from "../elf/list-symbols.js";
import { loadDebugFiles, type DebugSearchOptions } from "../debuginfo/index.js";
import { withElf, type ElfInput, type OpenOptions } from "./input.js";
import { findGoSymbol, goSymbolsIn } from "../golang/symbols.js";

export type { FoundSymbol } from "../elf/find-symbol.js";

/** Options for {@link findSymbol}. */
export interface FindOptions extends OpenOptions, DebugSearchOptions {
  /** Accept an IFUNC and return its resolver's offset (default: refuse, naming the implementations). */
  readonly allowIfunc?: boolean;
  /** Look in separate debug files and `.gnu_debugdata` when the file is stripped (default true). */
  readonly useDebugInfo?: boolean;
}

/**
 * Finds one function by `name`, `name@VERSION` or `name@@VERSION` and
 * returns its address and file offset.
 *
 * @example
 * const uvRun = await findSymbol("/usr/bin/node", "uv_run");
 * uvRun.fileOffset; // offset for a uprobe
 */
export async function findSymbol(file: ElfInput, name: string, options: FindOptions = {}): Promise<FoundSymbol> {
  return withElf(file, options, async (elf, path) => {
    const base: FindSymbolOptions = { allowIfunc: options.allowIfunc ?? false };
    try {
      return findSymbolIn(elf, name, base);
    } catch (error) {
      // A stripped file may name the function (or an IFUNC's implementations) only in its debug file.
      // A Go binary linked with -s -w still names its functions in the pclntab.
      const go = error instanceof NotFoundError ? findGoSymbol(elf, name) : undefined;
      if (go !== undefined) return go;
      const retry = (error instanceof NotFoundError || (error instanceof IfuncError && error.candidates.length === 0)) && options.useDebugInfo !== false;
      if (!retry) throw error;
      const debug = await loadDebugFiles(elf, path, options);
      if (debug.length === 0) throw error;
      try {
        return findSymbolIn(elf, name, { ...base, symbolSources: debug.map((d) => d.elf) });
      } finally {
        closeAll(debug.map((d) => d.elf));
      }
    }
  });
}

/** Options for {@link listSymbols}. */
export interface ListOptions extends OpenOptions, DebugSearchOptions, ListSymbolsOptions {
  /** Add symbols from debug files when the file is stripped (default true). */
  readonly useDebugInfo?: boolean;
}

/**
 * Lists functions (by default `func` and `ifunc` symbols) whose name
 * matches `pattern`, each with address and file offset, sorted by name.
 * A Go binary without `.symtab` (`-ldflags='-s -w'`) adds the functions of
 * its pclntab (binding `go`).
 *
 * @example
 * const uv = await listSymbols("/usr/bin/node", { pattern: "uv_*" });
 */
export async function listSymbols(file: ElfInput, options: ListOptions = {}): Promise<FoundSymbol[]> {
  return withElf(file, options, async (elf, path) => {
    const debug = options.useDebugInfo === false ? [] : await loadDebugFiles(elf, path, options);
    try {
      const found = listSymbolsIn(elf, { ...options, symbolSources: debug.map((d) => d.elf) });
      const hasSymtab = elf.symbolTable("symtab") !== undefined || debug.some((d) => d.elf.symbolTable("symtab") !== undefined);
      const wantsFunctions = options.types === undefined || options.types.includes("func");
      if (hasSymtab || !wantsFunctions) return found;
      const named = new Set(found.map((s) => s.address));
      const go = goSymbolsIn(elf, options.pattern).filter((s) => !named.has(s.address));
      if (go.length === 0) return found;
      return [...found, ...go].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    } finally {
      closeAll(debug.map((d) => d.elf));
    }
  });
}

function closeAll(files: ElfFile[]): void {
  for (const f of files) f.close();
}
