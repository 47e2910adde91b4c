/**
 * The names of one ELF symbol table as a {@link NameSource} of the symbol
 * index, cut from its string table for the functions a stack hits.
 *
 * The string table is read whole at the first name (the names of
 * neighbouring functions lie far apart in it, so reading them one by one
 * through the block cache re-reads the same blocks: 1.5 GiB for 150k
 * lookups in node's 7 MiB `.strtab`), into this source's own buffer, so
 * the `StringTable` other readers share is left as it was. A name that is
 * all ASCII (every C, C++ and Rust mangled name) is decoded from that
 * buffer by Buffer's latin1 decoder, which for ASCII gives the same string
 * as UTF-8: no `TextDecoder` call and no subarray per name (for node's 66k
 * names hit, about half of the name cost). Anything else (a non-ASCII
 * name, an index past the table, an unterminated string, a table above
 * {@link MAX_RESIDENT_BYTES}) goes through `StringTable.get`, which
 * decodes and fails exactly as before.
 */
import { Buffer } from "node:buffer";
import { MAX_RESIDENT_BYTES } from "../elf/string-table.js";
import type { SymbolTable } from "../elf/symbols.js";
import type { NameSource } from "./symbol-index.js";

const AT_SIGN = 0x40;

/** Names by `st_name`, without a version suffix (`.symtab` spells `memcpy@@GLIBC_2.14`; `.dynsym` keeps versions apart). */
export function tableNames(table: Pick<SymbolTable, "strings">): NameSource {
  const strings = table.strings;
  /** The whole table once read; null when it is too large to hold. */
  let bytes: Buffer | null | undefined;
  const slow = (ref: number): string => {
    const name = strings.get(ref);
    const at = name.indexOf("@");
    return at > 0 ? name.slice(0, at) : name;
  };
  return {
    nameOf(ref) {
      if (bytes === undefined) {
        if (strings.size > MAX_RESIDENT_BYTES) bytes = null;
        else {
          const read = strings.bytes(0, strings.size);
          bytes = Buffer.from(read.buffer, read.byteOffset, read.byteLength);
        }
      }
      if (bytes === null || ref >= bytes.length) return slow(ref);
      const nul = bytes.indexOf(0, ref);
      if (nul < 0) return slow(ref);
      let at = -1;
      for (let i = ref; i < nul; i++) {
        const c = bytes[i] as number;
        if (c >= 0x80) return slow(ref);
        if (c === AT_SIGN && at < 0) at = i;
      }
      // The first `@` ends the name unless it is its first byte (as `slow` has it).
      return bytes.toString("latin1", ref, at > ref ? at : nul);
    },
  };
}
