/**
 * loadBias from program headers: a PIE/shared object whose executable
 * segment has p_offset == p_vaddr (GNU ld), lld's layout where they differ
 * (fixtures/elf/bin/liblld.so: R E at offset 0x640, vaddr 0x1640), and a
 * non-PIE executable (bias 0). Expected values from readelf -lW.
 */
import { join } from "node:path";
import { expect, test } from "vitest";
import { ElfFile } from "../../src/elf/elf-file.js";
import { FileSource } from "../../src/io/file-source.js";
import { loadBias } from "../../src/symbolize/load-bias.js";

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;
const phdrs = (name: string) => {
  const elf = ElfFile.open(FileSource.open(join(BIN, name)), name);
  const headers = elf.programHeaders;
  elf.close();
  return headers;
};

test("lld library: the executable mapping at file offset 0 maps vaddr 0x1640 at start + 0x640", () => {
  const start = 0x7f0000001000n;
  const bias = loadBias(phdrs("liblld.so"), start, 0n, true) as bigint;
  expect(bias).toBe(start - 0x1000n);
  // An address 0x10 into the code: file offset 0x650, link-time address 0x1650.
  expect(start + 0x650n - bias).toBe(0x1650n);
});

test("a non-PIE executable is not relocated: bias 0", () => {
  const headers = phdrs("usdt_sema_nopie");
  const text = headers.find((p) => p.p_type === 1 && (p.p_flags & 1) !== 0);
  expect(text).toBeDefined();
  const mapStart = text?.p_vaddr as bigint;
  expect(loadBias(headers, mapStart - (mapStart % 0x1000n), BigInt(text?.p_offset as number) - (BigInt(text?.p_offset as number) % 0x1000n), true)).toBe(0n);
});

test("a mapping of offsets no PT_LOAD holds has no bias", () => {
  expect(loadBias(phdrs("liblld.so"), 0x7f0000000000n, 0x100000n, true)).toBeUndefined();
});
