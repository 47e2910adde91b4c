/**
 * USDT probe sites from `.note.stapsdt`.
 *
 * `sys/sdt.h` (SystemTap) emits one note per probe site into the
 * non-allocated `.note.stapsdt` section, and one byte into an allocated
 * `.stapsdt.base` section. `readelf -n` shows such a note as:
 *
 *     stapsdt              0x0000003e       NT_STAPSDT (SystemTap probe descriptors)
 *       Provider: salp
 *       Name: p1
 *       Location: 0x0000000000001139, Base: 0x0000000000002004, Semaphore: 0x0000000000004010
 *       Arguments: -4@%edi 8@%rsi
 *
 * The descriptor is three target-word addresses (pc, `.stapsdt.base`'s
 * link-time address, semaphore or 0) and three NUL-terminated strings
 * (provider, name, arguments). Rules that other tools get wrong:
 *
 * - pc is adjusted by `sh_addr(.stapsdt.base) - base` only when the section
 *   exists and base is not 0: prelink (or `objcopy --adjust-vma`) moves the
 *   section, and the note records where it was (PITFALLS 6). Semaphores are
 *   not adjusted.
 * - the probe's offset is in the executable PT_LOAD holding pc; the
 *   semaphore's `ref_ctr_offset` is its offset in the *non-executable*
 *   PT_LOAD holding it: 0x4028 in a segment at vaddr 0x4000 / offset 0x3000
 *   is 0x3028 (PITFALLS 1, 7).
 * - every site keeps its own semaphore, even when several sites share a
 *   provider:name (Rust's `probe` crate gives each its own; PITFALLS 8).
 */
import { FormatError, inFile, NotFoundError } from "../errors.js";
import type { ElfFile } from "../elf/elf-file.js";
import { hex } from "../elf/fields.js";
import { compileGlob } from "../glob.js";
import { RepeatedStrings } from "../elf/text.js";
import { parseUsdtArgs, usdtArchForMachine } from "./args/index.js";
import type { UsdtArch, UsdtArg } from "./args/types.js";
import { resolveArgSymbols, type SymbolSource } from "./symbols.js";

/** One USDT probe site. */
export interface UsdtSite {
  /** The file's name as the caller gave it. */
  readonly file: string;
  readonly provider: string;
  readonly name: string;
  /** Link-time address of the probe instruction, after the `.stapsdt.base` adjustment. */
  readonly address: bigint;
  /** File offset of the probe instruction: the uprobe offset. */
  readonly fileOffset: number;
  /** Link-time address of the semaphore, or undefined when the site has none. */
  readonly semaphore: bigint | undefined;
  /** File offset of the semaphore (the kernel's `ref_ctr_offset`), or undefined. */
  readonly semaphoreOffset: number | undefined;
  /** The argument string exactly as the note wrote it. */
  readonly argsText: string;
  /** Decoded arguments, one per item, in order. */
  readonly args: readonly UsdtArg[];
  /** File offset of the note, for diagnostics. */
  readonly noteOffset: number;
}

/** Options for {@link readUsdtSites}. */
export interface UsdtFilter {
  /** Provider glob (`postgresql`, `salp*`). Default: all. */
  readonly provider?: string;
  /** Probe-name glob (`query__*`). Default: all. */
  readonly name?: string;
  /**
   * Further files whose symbols resolve `sym(%rip)` arguments when this
   * file lacks them (a debug file for a stripped binary; PITFALLS 13).
   */
  readonly symbolSources?: readonly SymbolSource[];
}

const NT_STAPSDT = 3;
const decoder = new TextDecoder("utf-8");

/** Every USDT site of `elf` matching `filter`, in note order. Errors name the file. */
export function readUsdtSites(elf: ElfFile, filter: UsdtFilter = {}): UsdtSite[] {
  try {
    return readSitesUnwrapped(elf, filter);
  } catch (error) {
    throw inFile(error, elf.name);
  }
}

function readSitesUnwrapped(elf: ElfFile, filter: UsdtFilter): UsdtSite[] {
  const providerGlob = filter.provider === undefined ? undefined : compileGlob(filter.provider);
  const nameGlob = filter.name === undefined ? undefined : compileGlob(filter.name);
  const base = elf.section(".stapsdt.base");
  const arch = usdtArchForMachine(elf.header.e_machine, elf.header.bits);
  // Many sites share an argument string (libjvm: 531 sites, 128 strings); decode each once.
  const decoded = new Map<string, readonly UsdtArg[]>();
  const decode = (text: string): readonly UsdtArg[] => {
    let args = decoded.get(text);
    if (args === undefined) {
      args = resolveArgSymbols(elf, arch === undefined ? unsupportedArch(elf.machineName, text) : parsedArgs(arch, text), filter.symbolSources ?? []);
      decoded.set(text, args);
    }
    return args;
  };
  const providers = new RepeatedStrings();
  const views = new Views();
  const sites: UsdtSite[] = [];
  for (const note of elf.notes()) {
    if (note.name !== "stapsdt" || note.n_type !== NT_STAPSDT) continue;
    const raw = decodeNote(elf, note.desc, note.offset, providers, views);
    if (providerGlob !== undefined && !providerGlob.test(raw.provider)) continue;
    if (nameGlob !== undefined && !nameGlob.test(raw.name)) continue;
    const address = base !== undefined && raw.base !== 0n ? wrap(raw.pc + base.sh_addr - raw.base, elf.header.bits) : raw.pc;
    const fileOffset = elf.fileOffsetOf(address, "code");
    const where = (): string => `${raw.provider}:${raw.name} (note at ${hex(note.offset)})`;
    if (fileOffset === undefined) {
      throw new FormatError(`USDT ${where()}: location ${hex(address)} is not inside an executable PT_LOAD segment`, note.offset, address);
    }
    let semaphoreOffset: number | undefined;
    if (raw.semaphore !== 0n) {
      semaphoreOffset = elf.fileOffsetOf(raw.semaphore, "data");
      if (semaphoreOffset === undefined) {
        throw new FormatError(`USDT ${where()}: semaphore ${hex(raw.semaphore)} is not inside a data PT_LOAD segment`, note.offset, raw.semaphore);
      }
    }
    sites.push({
      file: elf.name,
      provider: raw.provider,
      name: raw.name,
      address,
      fileOffset,
      semaphore: raw.semaphore === 0n ? undefined : raw.semaphore,
      semaphoreOffset,
      argsText: raw.args,
      args: decode(raw.args),
      noteOffset: note.offset,
    });
  }
  return sites;
}

/**
 * Parsed argument strings, shared by every listing in this process:
 * parsing is a pure function of (architecture, text), and the same
 * libraries (libc, libjvm) are listed again for every container that maps
 * them. Bounded: emptied when it reaches {@link MAX_PARSED_ARGS} strings.
 */
const parsedArgsCache = new Map<string, readonly UsdtArg[]>();
const MAX_PARSED_ARGS = 4096;

function parsedArgs(arch: UsdtArch, text: string): readonly UsdtArg[] {
  const key = `${arch}\0${text}`;
  let args = parsedArgsCache.get(key);
  if (args === undefined) {
    if (parsedArgsCache.size >= MAX_PARSED_ARGS) parsedArgsCache.clear();
    args = parseUsdtArgs(arch, text);
    parsedArgsCache.set(key, args);
  }
  return args;
}

/** Like {@link readUsdtSites}, but a filter that matches nothing is a {@link NotFoundError} that lists what exists. */
export function findUsdtSites(elf: ElfFile, filter: UsdtFilter = {}): UsdtSite[] {
  const sites = readUsdtSites(elf, filter);
  if (sites.length > 0) return sites;
  const all = filter.provider === undefined && filter.name === undefined ? [] : readUsdtSites(elf);
  const wanted = `${filter.provider ?? "*"}:${filter.name ?? "*"}`;
  if (all.length === 0 && !hasStapsdt(elf)) {
    return notFound(elf, `has no USDT probes (no .note.stapsdt notes)`, ["rebuild with sys/sdt.h probes (e.g. --enable-dtrace), or probe a function instead"]);
  }
  const names = [...new Set(all.map((s) => `${s.provider}:${s.name}`))].sort();
  return notFound(
    elf,
    `no USDT probe matches "${wanted}"`,
    names.length > 0 ? [`probes that exist: ${names.slice(0, 12).join(", ")}${names.length > 12 ? `, … (${names.length} in all)` : ""}`] : [],
  );
}

function notFound(elf: ElfFile, message: string, hints: string[]): never {
  throw new NotFoundError(`${elf.name}: ${message}`, hints);
}

function hasStapsdt(elf: ElfFile): boolean {
  for (const note of elf.notes()) if (note.name === "stapsdt") return true;
  return false;
}

interface RawStapsdtNote {
  readonly pc: bigint;
  readonly base: bigint;
  readonly semaphore: bigint;
  readonly provider: string;
  readonly name: string;
  readonly args: string;
}

/** Decodes one descriptor; malformed ones are FormatErrors at the note's offset ("Invalid USDT note …"). */
function decodeNote(elf: ElfFile, desc: Uint8Array, offset: number, providers: RepeatedStrings, views: Views): RawStapsdtNote {
  const word = elf.header.bits / 8;
  if (desc.length < 3 * word + 3) throw new FormatError("invalid USDT note: descriptor too short for three addresses and three strings", offset, desc.length);
  const view = views.of(desc);
  const le = elf.header.littleEndian;
  const base0 = desc.byteOffset;
  const read = (at: number): bigint => (word === 8 ? view.getBigUint64(base0 + at, le) : BigInt(view.getUint32(base0 + at, le)));
  const providerEnd = terminated(desc, 3 * word, "provider", offset);
  const nameEnd = terminated(desc, providerEnd + 1, "name", offset);
  const argsEnd = terminated(desc, nameEnd + 1, "argument", offset);
  if (providerEnd === 3 * word || nameEnd === providerEnd + 1) throw new FormatError("invalid USDT note: empty provider or probe name", offset);
  return {
    pc: read(0),
    base: read(word),
    semaphore: read(2 * word),
    provider: providers.decode(desc.subarray(3 * word, providerEnd)),
    name: decoder.decode(desc.subarray(providerEnd + 1, nameEnd)),
    args: decoder.decode(desc.subarray(nameEnd + 1, argsEnd)),
  };
}

/** The index of the NUL ending the string at `from`, or a FormatError naming the string. */
function terminated(desc: Uint8Array, from: number, what: string, offset: number): number {
  const nul = desc.indexOf(0, from);
  if (nul < 0) throw new FormatError(`invalid USDT note: ${what} string is not NUL-terminated`, offset, desc.length);
  return nul;
}

/**
 * DataViews by underlying buffer, for one listing: every note of an area
 * shares the buffer the area was read into, so one view serves them all.
 */
class Views {
  #last: DataView | undefined;
  of(bytes: Uint8Array): DataView {
    if (this.#last === undefined || this.#last.buffer !== bytes.buffer) this.#last = new DataView(bytes.buffer);
    return this.#last;
  }
}

/** Address arithmetic in the target's word size, as the target would do it. */
function wrap(value: bigint, bits: 32 | 64): bigint {
  return BigInt.asUintN(bits, value);
}

function unsupportedArch(machine: string, text: string): UsdtArg[] {
  const items = text.trim() === "" ? [] : text.trim().split(/\s+/);
  return items.map((spec, index) => ({
    kind: "unsupported",
    reason: `USDT arguments of ${machine} binaries are not decoded by probec`,
    index,
    spec,
    size: 0,
    signed: false,
  }));
}
