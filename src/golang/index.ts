/**
 * Go binaries: detection (version, module, ABI), functions from the
 * pclntab (also when the ELF symbols are stripped), and the return
 * instructions that return probes on Go functions use instead of uretprobes.
 *
 * Pure: no `node:*`; reads through `ElfFile`.
 */
export { readGoBuildInfo, parseModInfo, type GoBuildInfo } from "./buildinfo.js";
export { goBuildId } from "./buildid.js";
export { detectGo, goMinor, REGISTER_ABI_SINCE, type GoBinaryInfo } from "./detect.js";
export { goFunctions, goFunctionsNamed, FUNC_FLAG_ASM, type GoFunction } from "./functions.js";
export { findPclntab, PCLNTAB_MAGIC, type Pclntab, type PclntabVersion } from "./pclntab.js";
export { findReturnInstructions, findReturnsInBytes, MAX_FUNCTION_BYTES, type FunctionBody, type ReturnArch, type ReturnSites } from "./returns.js";
export { loadX86Decoder } from "./x86-decoder.js";
export { findGoSymbol, goNotFound, goSymbolsIn, GO_BINDING } from "./symbols.js";
