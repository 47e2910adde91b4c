/**
 * What the public API accepts as "a file": a path, bytes, a
 * {@link ByteSource}, or an already opened {@link ElfFile}. Whatever this
 * module opens, it closes.
 */
import { BufferSource, type ByteSource } from "../io/byte-source.js";
import { FileSource } from "../io/file-source.js";
import { ElfFile, isDebugOnly } from "../elf/elf-file.js";
import { UsageError } from "../errors.js";

/** A file to read: a path, its bytes, a {@link ByteSource}, or an opened {@link ElfFile}. */
export type ElfInput = string | Uint8Array | ByteSource | ElfFile;

/** Options shared by every function that opens a file. */
export interface OpenOptions {
  /** How messages and results name the file (default: the path, or `<buffer>`). */
  readonly label?: string;
}

/**
 * Opens an ELF file. Throws a typed error naming the file: `IoError` for a
 * missing file, a directory or no permission, `FormatError` for anything
 * that is not a well-formed ELF file. Close it with `elf.close()`.
 */
export function openElf(input: ElfInput, options: OpenOptions = {}): ElfFile {
  if (input instanceof ElfFile) return input;
  if (typeof input === "string") {
    const source = FileSource.open(input);
    try {
      return ElfFile.open(source, options.label ?? input);
    } catch (error) {
      source.close();
      throw error;
    }
  }
  if (input instanceof Uint8Array) return ElfFile.open(new BufferSource(input), options.label ?? "<buffer>");
  return ElfFile.open(input, options.label ?? "<source>");
}

/**
 * Runs `body` on the opened file, closing it afterwards unless the caller
 * passed an {@link ElfFile}. A separate debug file is refused here: it names
 * things but holds no code, so nothing in it can be probed.
 */
export async function withElf<T>(input: ElfInput, options: OpenOptions, body: (elf: ElfFile, path: string | undefined) => Promise<T> | T): Promise<T> {
  const elf = openElf(input, options);
  try {
    if (isDebugOnly(elf)) {
      throw new UsageError(`${elf.name}: is a separate debug file; its code is not in it, so there is nothing here to probe`, [
        "name the binary it belongs to: probec reads this file for names when it sits beside the binary, in .debug/, or under a --debug-root",
      ]);
    }
    // The path matters beyond messages: debuglink files are looked up beside it.
    const path = typeof input === "string" ? input : elf.source instanceof FileSource ? elf.source.path : undefined;
    return await body(elf, path);
  } finally {
    if (!(input instanceof ElfFile)) elf.close();
  }
}
