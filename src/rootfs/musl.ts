/**
 * musl's library search path.
 *
 * musl has no cache: its loader (`ldso/dynlink.c`, `load_library`) reads
 * `/etc/ld-musl-<arch>.path` once, where `<arch>` is the `LDSO_ARCH` of the
 * build (`x86_64`, `aarch64`, `armhf`, …). The file lists directories
 * separated by newlines or colons; when it is absent (or unreadable) the
 * path is `/lib:/usr/local/lib:/usr/lib`; an EMPTY file means no directories
 * at all (musl sets `sys_path = ""`). Alpine ships no such file, so the
 * default is what almost every musl container uses.
 *
 * Pure: the caller reads the file through the container's root.
 */
import {
  EM_386,
  EM_AARCH64,
  EM_ARM,
  EM_LOONGARCH,
  EM_MICROBLAZE,
  EM_MIPS,
  EM_OR1K,
  EM_PPC,
  EM_PPC64,
  EM_RISCV,
  EM_S390,
  EM_SH,
  EM_X86_64,
} from "../elf/constants.js";
import { LimitError } from "../errors.js";

/** musl's built-in path when `/etc/ld-musl-<arch>.path` is absent (`SYSCONFDIR`-independent). */
export const MUSL_DEFAULT_PATH: readonly string[] = ["/lib", "/usr/local/lib", "/usr/lib"];

/** What the target binary says about itself, for picking musl's `LDSO_ARCH`. */
export interface MuslTarget {
  /** `e_machine`. */
  readonly machine: number;
  /** ELF class, 32 or 64. */
  readonly elfClass: 32 | 64;
  /** True for a little-endian binary (`EI_DATA` = `ELFDATA2LSB`). Default true. */
  readonly littleEndian?: boolean;
  /** `e_flags`, to tell armhf from arm (`EF_ARM_ABI_FLOAT_HARD` = 0x400). Default: hard float. */
  readonly flags?: number;
}

/**
 * musl's `LDSO_ARCH` for a target, as its `arch/<arch>/reloc.h` spells it
 * (the suffixes for soft-float and endianness included), or `undefined` for
 * a machine musl does not support.
 */
export function muslArch(target: MuslTarget): string | undefined {
  const le = target.littleEndian ?? true;
  const be = le ? "" : "eb";
  switch (target.machine) {
    case EM_X86_64:
      return target.elfClass === 64 ? "x86_64" : "x32";
    case EM_386:
      return "i386";
    case EM_AARCH64:
      return le ? "aarch64" : "aarch64_be";
    case EM_ARM: {
      const hard = target.flags === undefined || (target.flags & 0x400) !== 0;
      return `arm${be}${hard ? "hf" : ""}`;
    }
    case EM_RISCV:
      return target.elfClass === 64 ? "riscv64" : "riscv32";
    case EM_S390:
      return "s390x";
    case EM_PPC64:
      return le ? "powerpc64le" : "powerpc64";
    case EM_PPC:
      return le ? "powerpcle" : "powerpc";
    case EM_MIPS:
      // musl also appends -sf for soft-float; e_flags do not say which, so take hard float.
      return target.elfClass === 64 ? `mips64${le ? "el" : ""}` : `mips${le ? "el" : ""}`;
    case EM_LOONGARCH:
      return "loongarch64";
    case EM_SH:
      return `sh${be}`;
    case EM_MICROBLAZE:
      return le ? "microblazeel" : "microblaze";
    case EM_OR1K:
      return "or1k";
    default:
      return undefined;
  }
}

/** The container path of musl's path file for `arch`: `/etc/ld-musl-x86_64.path`. */
export function muslPathFile(arch: string): string {
  return `/etc/ld-musl-${arch}.path`;
}

/** Longest path file read, bytes: musl itself reads any size, but a real one is a few lines. */
export const MAX_MUSL_PATH_FILE = 64 * 1024;
/** Most directories taken from a path file. */
export const MAX_MUSL_PATH_DIRS = 1024;

/**
 * The directories of a path file's contents, in order: split on newlines and
 * colons (musl treats both as separators), empty items dropped, nothing else
 * trimmed (musl trims nothing: `" /lib"` is a directory named with a blank).
 *
 * @throws LimitError when the file is larger than {@link MAX_MUSL_PATH_FILE}.
 */
export function parseMuslPath(bytes: Uint8Array): string[] {
  if (bytes.length > MAX_MUSL_PATH_FILE) {
    throw new LimitError(`musl path file: ${bytes.length} bytes, more than the limit of ${MAX_MUSL_PATH_FILE}; a real one lists a few directories`);
  }
  const text = new TextDecoder().decode(bytes);
  const dirs: string[] = [];
  // musl's path_open: `s += strspn(s, ":\n"); l = strcspn(s, ":\n");` (no trimming of blanks).
  for (const dir of text.split(/[\n:]/)) {
    if (dir === "") continue;
    dirs.push(dir);
    if (dirs.length >= MAX_MUSL_PATH_DIRS) break;
  }
  return dirs;
}

/**
 * musl's search path for a target: the path file's directories, or
 * {@link MUSL_DEFAULT_PATH} when `readFile` finds no file. `readFile` reads
 * inside the container's root.
 */
export function muslSearchPath(target: MuslTarget, readFile: (containerPath: string) => Uint8Array | undefined): { dirs: string[]; file: string | undefined } {
  const arch = muslArch(target);
  if (arch === undefined) return { dirs: [...MUSL_DEFAULT_PATH], file: undefined };
  const file = muslPathFile(arch);
  const bytes = readFile(file);
  if (bytes === undefined) return { dirs: [...MUSL_DEFAULT_PATH], file: undefined };
  return { dirs: parseMuslPath(bytes), file };
}
