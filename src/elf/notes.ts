/**
 * ELF notes (`SHT_NOTE` sections and `PT_NOTE` segments).
 *
 * Each note is `n_namesz`, `n_descsz`, `n_type` (4 bytes each, in the file's
 * byte order, for both ELF classes), then the name and the descriptor, each
 * padded. The padding follows binutils (`elf_parse_notes`): a note area
 * aligned to 8 (GNU property notes) pads the descriptor start and the next
 * note to 8; anything else, including alignment 0 or 1 seen in the wild,
 * pads to 4.
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { Fields, type ElfLayout } from "./fields.js";
import { RepeatedStrings } from "./text.js";

/** One note. */
export interface ElfNote {
  /** Owner name without its trailing NUL, e.g. `GNU`, `stapsdt`. */
  readonly name: string;
  readonly n_type: number;
  /** The descriptor bytes (a view; copy before keeping it across reads). */
  readonly desc: Uint8Array;
  /** File offset of the descriptor, for error messages. */
  readonly descOffset: number;
  /** File offset of the note header. */
  readonly offset: number;
}

/** A note area: a section's or a segment's byte range. */
export interface NoteArea {
  readonly offset: number;
  readonly size: number;
  /** `sh_addralign` or `p_align`. */
  readonly align: bigint;
  /** How errors name the area (`.note.stapsdt`, `PT_NOTE[2]`). */
  readonly what: string;
}

/** Hostile-input cap on notes per area (libjvm has 531 USDT notes; a crafted file may claim millions). */
export const MAX_NOTES_PER_AREA = 1 << 20;
/** Hostile-input cap on the size of one note area. */
export const MAX_NOTE_AREA_BYTES = 64 * 1024 * 1024;

/** Iterates the notes of one area. Stops at the first malformed note by throwing a FormatError with its offset. */
export function* readNotes(source: ByteSource, layout: ElfLayout, area: NoteArea): Generator<ElfNote> {
  if (area.size > MAX_NOTE_AREA_BYTES) throw new LimitError(`${area.what}: note area of ${area.size} bytes (limit ${MAX_NOTE_AREA_BYTES})`);
  const bytes = readRange(source, area.offset, area.size, area.what);
  const f = new Fields(bytes, layout);
  const align = area.align === 8n ? 8 : 4;
  const owners = new RepeatedStrings();
  let at = 0;
  for (let count = 0; at < bytes.length; count++) {
    if (count >= MAX_NOTES_PER_AREA) throw new LimitError(`${area.what}: more than ${MAX_NOTES_PER_AREA} notes`);
    if (at + 12 > bytes.length) throw new FormatError(`${area.what}: note header truncated`, area.offset + at);
    const namesz = f.u32(at);
    const descsz = f.u32(at + 4);
    const type = f.u32(at + 8);
    const nameAt = at + 12;
    if (namesz > bytes.length - nameAt) throw new FormatError(`${area.what}: invalid note namesz`, area.offset + at, namesz);
    const descAt = alignUp(nameAt + namesz, align);
    if (descAt > bytes.length || descsz > bytes.length - descAt) {
      throw new FormatError(`${area.what}: invalid note descsz`, area.offset + at + 4, descsz);
    }
    // The name is NUL-terminated within namesz; tolerate a missing NUL as binutils does.
    let nameEnd = nameAt + namesz;
    while (nameEnd > nameAt && bytes[nameEnd - 1] === 0) nameEnd--;
    yield {
      name: owners.decode(bytes.subarray(nameAt, nameEnd)),
      n_type: type,
      desc: bytes.subarray(descAt, descAt + descsz),
      descOffset: area.offset + descAt,
      offset: area.offset + at,
    };
    at = alignUp(descAt + descsz, align);
  }
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}
