/**
 * Hostile objects never break a stack: a library whose .symtab header is
 * corrupt (sh_entsize 7), a mapped file that is not ELF at all, and a
 * function whose name lies past its string table (names are read only
 * when a stack hits them) are printed module+0xoffset, each with one
 * warning naming the file, while the other frames of the same stack are
 * still named. The process is a fake /proc (procRoot): its maps name files
 * on the host, its root is "/".
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { afterAll, expect, test } from "vitest";
import { createSymbolizer, formatFrame } from "../../src/symbolize/index.js";

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;
const dir = tmp.dirSync({ unsafeCleanup: true, prefix: "probec-hostile-" });
afterAll(() => dir.removeCallback());

/** usdt_sema (another build than strip_orig: objects are shared by build-id) with its .symtab's sh_entsize (Elf64_Shdr offset 56) set to 7. */
function corruptSymtab(to: string): void {
  const bytes = Buffer.from(readFileSync(join(BIN, "usdt_sema")));
  const shoff = Number(bytes.readBigUInt64LE(40));
  const shnum = bytes.readUInt16LE(60);
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    if (bytes.readUInt32LE(at + 4) === 2 /* SHT_SYMTAB */) bytes.writeBigUInt64LE(7n, at + 56);
  }
  writeFileSync(to, bytes);
}

test("a corrupt symbol table and a non-ELF file print module+0xoffset with one warning each; good frames stay named", async () => {
  const files = join(dir.name, "files");
  mkdirSync(files);
  const good = join(files, "good");
  const bad = join(files, "bad");
  const text = join(files, "notelf");
  copyFileSync(join(BIN, "strip_orig"), good);
  corruptSymtab(bad);
  writeFileSync(text, "not an ELF file\n".repeat(512));
  const proc = join(dir.name, "proc");
  mkdirSync(join(proc, "4242"), { recursive: true });
  symlinkSync("/", join(proc, "4242/root"));
  const ino = (p: string): bigint => statSync(p, { bigint: true }).ino;
  // strip_orig's code is in the PT_LOAD at file offset 0x1000 (readelf -lW): map it at 0x555555555000.
  writeFileSync(
    join(proc, "4242/maps"),
    [
      `555555555000-555555556000 r-xp 00001000 08:01 ${ino(good)} ${good}`,
      `7f0000001000-7f0000002000 r-xp 00001000 08:01 ${ino(bad)} ${bad}`,
      `7f0000010000-7f0000011000 r-xp 00000000 08:01 ${ino(text)} ${text}`,
      "",
    ].join("\n"),
  );
  const warnings: string[] = [];
  const s = createSymbolizer({ procRoot: proc, onWarning: (m) => warnings.push(m), providers: [] });
  try {
    // alpha is at 0x1140 in strip_orig (nm -S): bias 0x555555554000.
    const frames = await s.symbolize(4242, [0x555555555141n, 0x7f0000001141n, 0x7f0000010010n], { returnAddresses: false });
    expect(frames[0]?.name).toBe("alpha");
    expect(frames[1]?.name).toBeUndefined();
    expect(formatFrame(frames[1] as never)).toBe(`${bad}+0x1141`);
    expect(formatFrame(frames[2] as never)).toBe(`${text}+0x10`);
    expect(warnings).toHaveLength(2);
    expect(warnings.find((w) => w.startsWith(`${bad}: no function names`))).toMatch(/sh_entsize/);
    expect(warnings.find((w) => w.includes(text))).toMatch(/not an ELF file/i);
    // Asking again warns no more.
    await s.symbolize(4242, [0x7f0000001141n], { returnAddresses: false });
    expect(warnings).toHaveLength(2);
  } finally {
    s.close();
  }
});

/** strip_orig with alpha's st_name (Elf64_Sym offset 0) pointing far past .strtab. */
function nameOutOfTable(to: string): void {
  const bytes = Buffer.from(readFileSync(join(BIN, "strip_orig")));
  const shoff = Number(bytes.readBigUInt64LE(40));
  const shnum = bytes.readUInt16LE(60);
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    if (bytes.readUInt32LE(at + 4) !== 2 /* SHT_SYMTAB */) continue;
    const offset = Number(bytes.readBigUInt64LE(at + 24));
    const size = Number(bytes.readBigUInt64LE(at + 32));
    const strtab = shoff + bytes.readUInt32LE(at + 40) * 64;
    const strOffset = Number(bytes.readBigUInt64LE(strtab + 24));
    for (let e = offset; e < offset + size; e += 24) {
      const name = bytes.toString("latin1", strOffset + bytes.readUInt32LE(e), bytes.indexOf(0, strOffset + bytes.readUInt32LE(e)));
      if (name === "alpha") bytes.writeUInt32LE(0x7fff0000, e);
    }
  }
  writeFileSync(to, bytes);
}

test("a function whose name lies past its string table prints module+0xoffset with one warning; its neighbour stays named", async () => {
  const files = join(dir.name, "names");
  mkdirSync(files);
  const file = join(files, "badname");
  nameOutOfTable(file);
  const proc = join(dir.name, "proc-names");
  mkdirSync(join(proc, "4243"), { recursive: true });
  symlinkSync("/", join(proc, "4243/root"));
  writeFileSync(join(proc, "4243/maps"), `555555555000-555555556000 r-xp 00001000 08:01 ${statSync(file, { bigint: true }).ino} ${file}\n`);
  const warnings: string[] = [];
  const s = createSymbolizer({ procRoot: proc, onWarning: (m) => warnings.push(m), providers: [] });
  try {
    // alpha is at 0x1140 and beta at 0x1150 in strip_orig (nm -S): bias 0x555555554000.
    const frames = await s.symbolize(4243, [0x555555555141n, 0x555555555151n, 0x555555555142n], { returnAddresses: false });
    expect(frames[0]?.name).toBeUndefined();
    expect(formatFrame(frames[0] as never)).toBe(`${file}+0x1141`);
    expect(frames[1]?.name).toBe("beta");
    expect(frames[2]?.name).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^${file}: a function name could not be read \\(.*string index past the end`));
  } finally {
    s.close();
  }
});
