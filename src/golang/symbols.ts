/**
 * Go functions as `FoundSymbol`s, for the places that look up or list
 * functions by name (`locate/`, `api/symbols.ts`, `probec list`): a Go
 * binary built with `-ldflags='-s -w'` (the usual container build) has no
 * `.symtab`, but its pclntab still names every function, and the names are
 * the ones Go prints (`net/http.(*Server).Serve`).
 *
 * A compiler-generated ABI wrapper is left out when its twin is there (the
 * twin holds the code a probe wants). A symbol from here has `type` `func`
 * and `binding` `go`, so a listing shows where it came from.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { NotFoundError } from "../errors.js";
import { compileGlob } from "../glob.js";
import { nearest } from "../suggest.js";
import { goFunctions, goFunctionsNamed, type GoFunction } from "./functions.js";

/** The `binding` a Go function from the pclntab reports. */
export const GO_BINDING = "go";

/** Go functions whose name matches `pattern` (a glob; every function without one), sorted by name then address. */
export function goSymbolsIn(elf: ElfFile, pattern?: string): FoundSymbol[] {
  const glob = pattern === undefined ? undefined : compileGlob(pattern);
  const all = glob?.isLiteral === true ? goFunctionsNamed(elf, pattern as string) : goFunctions(elf);
  const out: FoundSymbol[] = [];
  for (const fn of all) {
    if (glob !== undefined && !glob.isLiteral && !glob.test(fn.name)) continue;
    if (fn.isAbiWrapper || fn.fileOffset === undefined) continue;
    out.push(toFound(elf, fn, fn.fileOffset));
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * The Go function named exactly `name`, or undefined. Two functions of one
 * name that are not an ABI-wrapper pair (it does not happen in one linked
 * binary) give the lower address.
 */
export function findGoSymbol(elf: ElfFile, name: string): FoundSymbol | undefined {
  const candidates = goFunctionsNamed(elf, name).filter((f) => f.fileOffset !== undefined);
  const fn = candidates.find((f) => !f.isAbiWrapper) ?? candidates[0];
  return fn === undefined || fn.fileOffset === undefined ? undefined : toFound(elf, fn, fn.fileOffset);
}

function toFound(elf: ElfFile, fn: GoFunction, fileOffset: number): FoundSymbol {
  return {
    file: elf.name,
    name: fn.name,
    version: null,
    isDefaultVersion: true,
    address: fn.entry,
    fileOffset,
    size: fn.size,
    type: "func",
    binding: GO_BINDING,
  };
}

/**
 * The error for a name that neither the ELF symbols nor the pclntab hold,
 * when `elf` is a Go binary without `.symtab`: it names the Go functions
 * nearest to `name` (their spelling, `(*T)` and all, is easy to get
 * wrong). Undefined for any other file, whose own error stands.
 */
export function goNotFound(elf: ElfFile, name: string): NotFoundError | undefined {
  if (elf.symbolTable("symtab") !== undefined) return undefined;
  const all = goFunctions(elf);
  if (all.length === 0) return undefined;
  const near = nearest(
    name,
    all.map((f) => f.name),
  );
  const hints = [
    ...(near.length > 0 ? [`did you mean ${near.map((n) => `"${n}"`).join(", ")}?`] : []),
    "Go names are written as Go prints them: net/http.(*Server).Serve, main.main.func1; list them with probec list FILE --functions",
  ];
  return new NotFoundError(`${elf.name}: Go function "${name}" not found in the pclntab (the binary has no symbol table)`, hints);
}
