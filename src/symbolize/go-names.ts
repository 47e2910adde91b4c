/**
 * Go functions as a {@link NameProvider}: a Go binary linked with `-s -w`
 * (most Go images) has no `.symtab`, but its `.gopclntab` still names every
 * function (PITFALLS 31). Read by src/golang; a function's extent there runs
 * to the next function, so its alignment padding is included, which can
 * only ever name padding after the function, never another function.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { goFunctions } from "../golang/functions.js";
import type { NameProvider, ProvidedFunction } from "./object-names.js";

/** The pclntab's functions of `elf`; [] when it is not a Go binary. */
export const goNames: NameProvider = (elf: ElfFile): readonly ProvidedFunction[] =>
  goFunctions(elf).map((f) => ({ name: f.name, start: f.entry, size: BigInt(f.size) }));
