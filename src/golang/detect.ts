/**
 * `detectGo(elf)`: is this a Go binary, which Go built it, and which calling
 * convention do its Go functions use.
 *
 * Evidence, strongest first: `.go.buildinfo` (Go 1.13+: version and module,
 * kept by `-s -w`), the pclntab (every Go binary has one: the runtime needs
 * it), the `Go` build-id note (`.note.go.buildid`, type 4, which
 * `go tool buildid` prints), and `runtime.*` symbols when a symbol table is
 * left. Any one of them is enough to call the file Go. The symbols are
 * searched only in a file with a section Go's linker writes (`.gosymtab`,
 * `.noptrdata`, …): a C or C++ binary costs no walk over its `.symtab`,
 * which for node is 110k entries and 7.5 MB of names (issue 13).
 *
 * The register ABI ("ABIInternal", Go's `internal/abi` and
 * `src/cmd/compile/abi-internal.md`) became the default for Go functions on
 * amd64 in Go 1.17, on arm64, ppc64 and ppc64le in 1.18, on riscv64 in 1.19
 * and on loong64 in 1.20 (the Go release notes of each); everything else
 * (386, arm, s390x, mips) still passes arguments on the stack (ABI0).
 * Functions written in Go assembly are always ABI0, see `GoFunction.isAsm`.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { nameBytes } from "../elf/string-table.js";
import { inFile } from "../errors.js";
import { readGoBuildInfo, type GoBuildInfo } from "./buildinfo.js";
import { goBuildId } from "./buildid.js";
import { findPclntab, type PclntabVersion } from "./pclntab.js";

/** What {@link detectGo} found. */
export interface GoBinaryInfo {
  /** `go1.19.8` from `.go.buildinfo`; undefined when the file has none (Go before 1.13, or it was removed). */
  readonly goVersion: string | undefined;
  /** The main module's path (`mod` line), else the main package's path; undefined without build info. */
  readonly modulePath: string | undefined;
  /** The main package's import path (`path` line). */
  readonly mainPackage: string | undefined;
  /** The Go build ID from the `Go` note, as `go tool buildid` prints it. */
  readonly buildId: string | undefined;
  /** The pclntab format; undefined when no pclntab was found. */
  readonly pclntabVersion: PclntabVersion | undefined;
  /** The calling convention of the binary's Go (not assembly) functions. */
  readonly abi: "ABIInternal" | "ABI0";
  /** The `GOARCH` this binary is for, from `e_machine`. */
  readonly goarch: string | undefined;
  /** Which evidence said Go. */
  readonly evidence: ReadonlyArray<"buildinfo" | "pclntab" | "buildid-note" | "runtime-symbols">;
  /** The full build information, when present. */
  readonly buildInfo: GoBuildInfo | undefined;
}

/** GOARCH by ELF `e_machine`, for the architectures whose ABI matters here. */
const GOARCH_BY_MACHINE: Readonly<Record<number, string>> = {
  62: "amd64",
  183: "arm64",
  3: "386",
  40: "arm",
  21: "ppc64",
  243: "riscv64",
  258: "loong64",
  22: "s390x",
  8: "mips",
};

/** First Go minor version whose Go functions use the register ABI, by GOARCH. */
export const REGISTER_ABI_SINCE: Readonly<Record<string, number>> = { amd64: 17, arm64: 18, ppc64: 18, ppc64le: 18, riscv64: 19, loong64: 20 };

/** Describes `elf` as a Go binary, or undefined when nothing says it is one. */
export function detectGo(elf: ElfFile): GoBinaryInfo | undefined {
  try {
    const evidence: Array<GoBinaryInfo["evidence"][number]> = [];
    const buildInfo = readGoBuildInfo(elf);
    if (buildInfo !== undefined) evidence.push("buildinfo");
    const pclntab = findPclntab(elf);
    if (pclntab !== undefined) evidence.push("pclntab");
    const buildId = buildIdOrNothing(elf);
    if (buildId !== undefined) evidence.push("buildid-note");
    if (evidence.length === 0) {
      if (!hasRuntimeSymbols(elf)) return undefined;
      evidence.push("runtime-symbols");
    }
    const fromElf = GOARCH_BY_MACHINE[elf.header.e_machine];
    const goarch = buildInfo?.settings.find(([key]) => key === "GOARCH")?.[1] ?? (fromElf === "ppc64" && elf.header.littleEndian ? "ppc64le" : fromElf);
    const minor = goMinor(buildInfo?.goVersion) ?? (pclntab?.version === "1.20" ? 20 : pclntab?.version === "1.18" ? 18 : undefined);
    const since = goarch === undefined ? undefined : REGISTER_ABI_SINCE[goarch];
    // Without a version, a 1.16 table (Go 1.16–1.17) on amd64 is ambiguous: 1.17 (ABIInternal) is the likelier today.
    const guess = minor ?? (pclntab?.version === "1.16" ? 17 : undefined);
    const abi = since !== undefined && guess !== undefined && guess >= since ? "ABIInternal" : "ABI0";
    return {
      goVersion: buildInfo?.goVersion,
      modulePath: buildInfo?.modulePath ?? buildInfo?.path,
      mainPackage: buildInfo?.path,
      buildId,
      pclntabVersion: pclntab?.version,
      abi,
      goarch,
      evidence,
      buildInfo,
    };
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

/** `go1.19.8` → 19; `go1.21rc2` → 21; `devel go1.23-abc` → 23; undefined for anything else. */
export function goMinor(version: string | undefined): number | undefined {
  const match = version === undefined ? null : /go1\.(\d+)/.exec(version);
  return match === null ? undefined : Number(match[1]);
}

/** The build ID, or undefined when the notes cannot be read (a damaged unrelated note must not hide the other evidence). */
function buildIdOrNothing(elf: ElfFile): string | undefined {
  try {
    return goBuildId(elf);
  } catch {
    return undefined;
  }
}

/**
 * Sections only Go's linker writes, internally or externally linked (an
 * external link keeps the sections of Go's object): `go.o`'s tables and its
 * no-pointer data. One of them makes a symbol search worth its cost.
 */
const GO_LINKER_SECTIONS = new Set([".gosymtab", ".gopclntab", ".data.rel.ro.gopclntab", ".typelink", ".itablink", ".noptrdata", ".noptrbss", ".go.buildinfo"]);

/** True when a section of `elf` is one only Go's linker writes, see {@link GO_LINKER_SECTIONS}. */
export function hasGoLinkerSection(elf: ElfFile): boolean {
  return elf.sections.some((s) => GO_LINKER_SECTIONS.has(s.name));
}

const RUNTIME_NAMES = [nameBytes("runtime.main"), nameBytes("runtime.goexit")];

/**
 * True when `.symtab` defines `runtime.main` or `runtime.goexit` (a Go
 * program with its symbols, but no other evidence). Names are compared as
 * bytes, never decoded, and only in a file with a Go linker section.
 */
function hasRuntimeSymbols(elf: ElfFile): boolean {
  if (!hasGoLinkerSection(elf)) return false;
  const table = elf.symbolTable("symtab");
  if (table === undefined) return false;
  let seen = 0;
  for (const raw of table.raw()) {
    if (++seen > 2_000_000) break;
    if (raw.st_name === 0 || raw.st_shndx === 0) continue;
    if (RUNTIME_NAMES.some((name) => table.strings.equals(raw.st_name, name))) return true;
  }
  return false;
}
