/**
 * From a runtime address to the object's own terms: the file offset, and
 * the link-time virtual address its symbol tables speak in.
 *
 * A mapping line says "file offset `offset` is mapped at `start`", so an
 * address `a` in it is at file offset `a - start + offset`. The `PT_LOAD`
 * segment holding that file offset turns it into a link-time address:
 * `fileOffset - p_offset + p_vaddr` (System V gABI, "Program Loading"). The
 * difference `a - vaddr` is the load bias: 0 for a non-PIE executable,
 * the load address for PIE executables and shared libraries. Computed from
 * the program headers, never from section headers (a sstripped file has
 * none) nor by assuming `p_offset == p_vaddr` (lld's libraries differ:
 * PITFALLS 1).
 *
 * Pure: no `node:*`.
 */
import { PF_X, PT_LOAD } from "../elf/constants.js";
import type { ProgramHeader } from "../elf/program-headers.js";

/** Largest page size Linux uses (64 KiB, arm64 and ppc64): a mapping's offset is its segment's offset rounded down to at most this. */
const MAX_PAGE = 64n * 1024n;

/**
 * The load bias of a mapping of `[start, …)` at file offset `offset`, from
 * the `PT_LOAD` whose file range it maps (executable segments first), or
 * undefined when no segment matches (a mapping of a file that is not the
 * ELF object read, or a crafted one).
 */
export function loadBias(programHeaders: readonly ProgramHeader[], start: bigint, offset: bigint, executable: boolean): bigint | undefined {
  const loads = programHeaders.filter((p) => p.p_type === PT_LOAD);
  const ordered = [...loads.filter((p) => ((p.p_flags & PF_X) !== 0) === executable), ...loads.filter((p) => ((p.p_flags & PF_X) !== 0) !== executable)];
  for (const p of ordered) {
    const pOffset = BigInt(p.p_offset);
    const pEnd = pOffset + BigInt(p.p_filesz);
    // The mapping starts at the segment's offset rounded down to a page, so at most one page before it.
    if (offset <= pOffset ? pOffset - offset < MAX_PAGE : offset < pEnd) {
      return start - offset + pOffset - p.p_vaddr;
    }
  }
  return undefined;
}
