/**
 * Symbols for stripped binaries: separate debug files (build-id or
 * debuglink) and MiniDebugInfo (`.gnu_debugdata`). Node-only: it reads
 * other files and decompresses xz.
 *
 * The files returned here only *name* things; every offset is still computed
 * from the stripped file's own program headers (PITFALLS 5).
 */
import { existsSync } from "node:fs";
import { BufferSource } from "../io/byte-source.js";
import { FileSource } from "../io/file-source.js";
import { ElfFile } from "../elf/elf-file.js";
import { SHT_NOBITS } from "../elf/constants.js";
import { debugCandidates, fileCrc32, type DebugSearchOptions } from "./locate.js";
import { decompressXz } from "./xz.js";

export type { DebugSearchOptions } from "./locate.js";

/** A debug file that passed its identity check. */
export interface DebugFile {
  readonly elf: ElfFile;
  readonly via: "build-id" | "debuglink" | "gnu_debugdata";
  /** The file's path; for `gnu_debugdata`, the binary's own path. */
  readonly path: string;
}

/**
 * Largest `.gnu_debugdata` probec decompresses. Fedora's are a few hundred
 * KiB; the cap bounds what a crafted file (xz of zeros compresses 7000:1)
 * can make a privileged tool allocate (PITFALLS 24).
 */
const MAX_DEBUGDATA_BYTES = 32 * 1024 * 1024;

/**
 * Every usable debug file for `elf` (opened from `path`): the first
 * build-id or debuglink match, then its `.gnu_debugdata`, if any. Returns []
 * when the file has its own `.symtab` (nothing to add) or nothing matches.
 * Mismatched candidates are reported through `onSkip`.
 */
export async function loadDebugFiles(elf: ElfFile, path: string | undefined, options: DebugSearchOptions = {}): Promise<DebugFile[]> {
  if (elf.symbolTable("symtab") !== undefined) return [];
  const found: DebugFile[] = [];
  for (const candidate of debugCandidates(elf, path, options)) {
    if (!existsSync(candidate.path)) continue;
    let debug: ElfFile;
    try {
      debug = ElfFile.open(FileSource.open(candidate.path), candidate.path);
    } catch (error) {
      options.onSkip?.(candidate.path, error instanceof Error ? error.message : String(error));
      continue;
    }
    const why = mismatch(debug, candidate);
    if (why !== undefined) {
      options.onSkip?.(candidate.path, why);
      debug.close();
      continue;
    }
    found.push({ elf: debug, via: candidate.via, path: candidate.path });
    break;
  }
  const minidebug = await loadGnuDebugdata(elf, path);
  if (minidebug !== undefined) found.push(minidebug);
  return found;
}

function mismatch(debug: ElfFile, candidate: { path: string; crc?: number; buildId?: string }): string | undefined {
  if (candidate.buildId !== undefined && debug.buildId() !== candidate.buildId) {
    return `build-id ${debug.buildId() ?? "(none)"} differs from the binary's ${candidate.buildId}`;
  }
  if (candidate.crc !== undefined) {
    const crc = fileCrc32(candidate.path);
    if (crc !== candidate.crc) return `CRC 0x${crc.toString(16)} differs from the debuglink's 0x${candidate.crc.toString(16)}`;
  }
  return undefined;
}

/** The ELF image inside `.gnu_debugdata` (xz-compressed MiniDebugInfo), or undefined. */
export async function loadGnuDebugdata(elf: ElfFile, path: string | undefined): Promise<DebugFile | undefined> {
  const section = elf.section(".gnu_debugdata");
  if (section === undefined || section.sh_type === SHT_NOBITS) return undefined;
  const compressed = elf.readSection(section);
  const bytes = await decompressXz(compressed, MAX_DEBUGDATA_BYTES, `${elf.name}: .gnu_debugdata`);
  const name = `${elf.name} (.gnu_debugdata)`;
  return { elf: ElfFile.open(new BufferSource(bytes), name), via: "gnu_debugdata", path: path ?? elf.name };
}
