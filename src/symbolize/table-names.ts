/**
 * The names of one ELF symbol table as a {@link NameSource} of the symbol
 * index, cut from its string table for the functions a stack hits.
 *
 * The first {@link READ_ONE_BY_ONE} names are read one by one, each with
 * one short read into a reused buffer: the stacks of a real
 * program name a few thousand functions, and reading node's whole 7 MiB
 * `.strtab` and making it a string would cost more time than those reads
 * and 15 MiB of memory. Past that, the table is read whole (the names of
 * neighbouring functions lie far apart in it, so reading 150k of them one
 * by one re-reads the same blocks: 1.5 GiB for node), into this source's
 * own memory, so the `StringTable` other readers share is left as it was.
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

/** Bytes read for one name read on its own: most names fit (node's longest C++ names run to a few hundred bytes); longer ones take a second read. */
const WINDOW_BYTES = 512;

/** Names read one by one before the table is read whole (see the module comment). */
export const READ_ONE_BY_ONE = 4096;

/**
 * Names by `st_name`, without a version suffix (`.symtab` spells `memcpy@@GLIBC_2.14`; `.dynsym` keeps versions apart).
 * `oneByOne` (tests) sets how many names are read one by one first.
 */
export function tableNames(table: Pick<SymbolTable, "strings">, oneByOne = READ_ONE_BY_ONE): NameSource {
  const strings = table.strings;
  let left = oneByOne;
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
  /** One name read on its own: a short read into `window` (reused), decoded as fromBytes does; longer names go through `slow`. */
  let window: Buffer | undefined;
  const oneName = (ref: number): string => {
    window ??= Buffer.allocUnsafe(WINDOW_BYTES);
    if (ref >= strings.size) return slow(ref);
    const read = strings.bytes(ref, WINDOW_BYTES, window);
    const bytes = read.buffer === window.buffer ? window.subarray(0, read.length) : Buffer.from(read.buffer, read.byteOffset, read.byteLength);
    const nul = bytes.indexOf(0);
    if (nul < 0) return slow(ref);
    let at = -1;
    for (let i = 0; i < nul; i++) {
      const c = bytes[i] as number;
      if (c >= 0x80) return slow(ref);
      if (c === AT_SIGN && at < 0) at = i;
    }
    return bytes.toString("latin1", 0, at > 0 ? at : nul);
  };
  return {
    nameOf(ref) {
      if (text === undefined && bytes === undefined) {
        if (left > 0) {
          left--;
          return oneName(ref);
        }
        load();
      }
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
