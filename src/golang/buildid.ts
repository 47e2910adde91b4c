/**
 * The Go build ID: a note named `Go` of type 4 (Go's `cmd/link`,
 * `ELF_NOTE_GOBUILDID_TAG`) in `.note.go.buildid`, whose text
 * `go tool buildid FILE` prints.
 *
 * Pure: no `node:*`.
 */
import type { ElfFile } from "../elf/elf-file.js";
import { readNotes } from "../elf/notes.js";

const GO_NOTE_NAME = "Go";
const NT_GO_BUILDID = 4;

/**
 * The Go build ID note's text, or undefined. With section headers only
 * `.note.go.buildid` is read, so a damaged unrelated note (`.note.stapsdt`)
 * does not make a question about Go fail.
 */
export function goBuildId(elf: ElfFile): string | undefined {
  const section = elf.section(".note.go.buildid");
  if (elf.sections.length > 0 && section === undefined) return undefined;
  const notes =
    section === undefined
      ? elf.notes()
      : readNotes(elf.source, elf.header, { offset: section.sh_offset, size: section.sh_size, align: section.sh_addralign, what: section.name });
  for (const note of notes) {
    if (note.name === GO_NOTE_NAME && note.n_type === NT_GO_BUILDID && note.desc.length > 0) {
      return new TextDecoder("utf-8", { fatal: false }).decode(note.desc).replace(/\0+$/, "");
    }
  }
  return undefined;
}
