/** The ELF fixtures (fixtures/elf/bin) that open, with their machine; the corrupt ones are test/elf/corrupt.test.ts's. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ElfFile } from "../../src/elf/elf-file.js";
import { FileSource } from "../../src/io/file-source.js";

export const ELF_FIXTURES = join(import.meta.dirname, "../../fixtures/elf/bin");

export function openableFixtures(): { readonly path: string; readonly machine: string }[] {
  const out: { path: string; machine: string }[] = [];
  for (const name of readdirSync(ELF_FIXTURES)) {
    const path = join(ELF_FIXTURES, name);
    if (!statSync(path).isFile()) continue;
    let elf: ElfFile;
    try {
      elf = ElfFile.open(FileSource.open(path), path);
    } catch {
      continue;
    }
    out.push({ path, machine: elf.machineName });
    elf.close();
  }
  return out;
}
