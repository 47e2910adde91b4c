/**
 * `probec/elf`: the pure ELF reader, for programs that want the parts
 * without probec's opinions. No `node:*` imports; bring your own
 * {@link ByteSource} (or a `BufferSource` over bytes).
 */
export { ElfFile, MAX_SECTION_READ, type DebugLink, type SegmentKind } from "./elf-file.js";
export type { ElfHeader } from "./header.js";
export type { ProgramHeader } from "./program-headers.js";
export type { SectionHeader } from "./section-headers.js";
export { SymbolTable, bindingName, typeName, type ElfSymbol, type RawSymbol, type SymbolTableKind } from "./symbols.js";
export { StringTable } from "./string-table.js";
export type { SymbolVersion } from "./versions.js";
export type { ElfNote } from "./notes.js";
export { gnuHash, sysvHash, type HashLookup } from "./hash.js";
export { findSymbolIn, parseSymbolRequest, ifuncCandidates, type FindSymbolOptions, type FoundSymbol, type SymbolRequest } from "./find-symbol.js";
export { iterateSymbols, listSymbolsIn, type ListSymbolsOptions } from "./list-symbols.js";
export { hex } from "./fields.js";
export * as constants from "./constants.js";
export { BufferSource, readRange, type ByteSource } from "../io/byte-source.js";
