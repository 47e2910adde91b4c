/**
 * The names of one ELF symbol table as a {@link NameSource} of the symbol
 * index, cut from its string table for the functions a stack hits.
 *
 * The string table is read whole at the first name (the names of
 * neighbouring functions lie far apart in it, so reading them one by one
 * through the block cache re-reads the same blocks: 1.5 GiB for 150k
 * lookups in node's 7 MiB `.strtab`), into this source's own memory, so
 * the `StringTable` other readers share is left as it was.
 *
 * A table that is all ASCII (every C, C++ and Rust toolchain's) becomes
 * one JS string (latin1, which for ASCII is the same string UTF-8 gives),
 * and each name is a slice of it: two string builtins per name and no
 * call into Buffer, where the byte path paid a Buffer.indexOf, a JS loop
 * over every byte and a toString (for node's 50k names hit, most of the
 * name cost). The slices share the table's one string, which lives as
 * long as any name cut from it. A table with any other byte keeps its
 * bytes and decodes each name from them, ASCII names as latin1 and the
 * rest through `StringTable.get`; an index past the table, an
 * unterminated string or a table above {@link MAX_RESIDENT_BYTES} also
 * go through `StringTable.get`, which decodes and fails exactly as before.
 */
import { Buffer, isAscii } from "node:buffer";
import { MAX_RESIDENT_BYTES } from "../elf/string-table.js";
import type { SymbolTable } from "../elf/symbols.js";
import type { NameSource } from "./symbol-index.js";

const AT_SIGN = 0x40;

/** Names by `st_name`, without a version suffix (`.symtab` spells `memcpy@@GLIBC_2.14`; `.dynsym` keeps versions apart). */
export function tableNames(table: Pick<SymbolTable, "strings">): NameSource {
  const strings = table.strings;
  /** The whole table as one string when it is all ASCII, once read. */
  let text: string | undefined;
  /** Else its bytes; null when it is too large to hold. */
  let bytes: Buffer | null | undefined;
  const slow = (ref: number): string => {
    const name = strings.get(ref);
    const at = name.indexOf("@");
    return at > 0 ? name.slice(0, at) : name;
  };
  const load = (): void => {
    if (strings.size > MAX_RESIDENT_BYTES) {
      bytes = null;
      return;
    }
    const read = strings.bytes(0, strings.size);
    const buffer = Buffer.from(read.buffer, read.byteOffset, read.byteLength);
    if (isAscii(buffer)) text = buffer.toString("latin1");
    else bytes = buffer;
  };
  const fromBytes = (all: Buffer, ref: number): string => {
    if (ref >= all.length) return slow(ref);
    const nul = all.indexOf(0, ref);
    if (nul < 0) return slow(ref);
    let at = -1;
    for (let i = ref; i < nul; i++) {
      const c = all[i] as number;
      if (c >= 0x80) return slow(ref);
      if (c === AT_SIGN && at < 0) at = i;
    }
    // The first `@` ends the name unless it is its first byte (as `slow` has it).
    return all.toString("latin1", ref, at > ref ? at : nul);
  };
  return {
    nameOf(ref) {
      if (text === undefined && bytes === undefined) load();
      if (text === undefined) return bytes === null || bytes === undefined ? slow(ref) : fromBytes(bytes, ref);
      if (ref >= text.length) return slow(ref);
      const nul = text.indexOf("\0", ref);
      if (nul < 0) return slow(ref);
      const name = text.slice(ref, nul);
      // The first `@` ends the name unless it is its first byte (as `slow` has it).
      const at = name.indexOf("@");
      return at > 0 ? name.slice(0, at) : name;
    },
  };
}
