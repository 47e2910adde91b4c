/**
 * `probec/symbolize`: user stacks to named frames, and the pictures made
 * of them (issue 15, "User stacks").
 *
 * - {@link createSymbolizer}: per process, a snapshot of what it maps
 *   (kept after it exits), each object read inside the process's root or
 *   through `map_files`, named from its ELF symbols, its debug file by
 *   build-id or debuglink (inside the container, then on the host), its
 *   `.gnu_debugdata` and Go's pclntab, demangled; a frame that cannot be
 *   named prints `module+0xOFFSET` or `[unknown]`, never a wrong name.
 * - {@link foldStacks} / {@link parseFolded}: the folded stack format.
 * - {@link renderFlameGraph}: folded stacks to a flame graph SVG.
 *
 * The BPF side (capturing the addresses) is not here: this library takes
 * arrays of addresses, whatever captured them.
 */
export { createSymbolizer, type Symbolizer, type SymbolizerOptions, type SymbolizeOptions, type SymbolizerStats } from "./symbolizer.js";
export { formatFrame, UNKNOWN_FRAME, type Frame, type FormatFrameOptions } from "./frame.js";
export { foldStacks, frameNames, parseFolded, cleanFrame, type CountedStack, type FoldedStack } from "./folded.js";
export { renderFlameGraph, escapeXml, type FlameGraphOptions } from "./flamegraph.js";
export { loadDemangler, isMangled, type Demangler } from "./demangle.js";
export { SymbolIndex, SymbolIndexBuilder, MAX_INDEX_ENTRIES, type SymbolHit } from "./symbol-index.js";
export { indexObject, type NameProvider, type ProvidedFunction, type ObjectNames } from "./object-names.js";
export { loadBias } from "./load-bias.js";
export { goNames } from "./go-names.js";
