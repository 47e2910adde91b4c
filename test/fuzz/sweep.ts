/**
 * The accessor sweep: open bytes as an ELF file and call every public
 * accessor of the pure reader on it, each in its own try/catch so that one
 * refused table does not hide a crash in the next.
 *
 * probec may refuse anything in a hostile file, but only with a
 * `ProbecError` (PITFALLS 24). Every other exception (`TypeError`,
 * `RangeError`, a stack overflow, a `SyntaxError` from `BigInt`) is
 * returned as a {@link Crash} naming the accessor that threw it.
 */
import { symbolToJson, usdtSiteToJson } from "../../src/api/json.js";
import { findSymbol, listSymbols } from "../../src/api/symbols.js";
import { findUsdt } from "../../src/api/usdt.js";
import { loadDebugFiles } from "../../src/debuginfo/index.js";
import { ProbecError } from "../../src/errors.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { findSymbolIn, ifuncCandidates } from "../../src/elf/find-symbol.js";
import { iterateSymbols, listSymbolsIn } from "../../src/elf/list-symbols.js";
import { nameBytes } from "../../src/elf/string-table.js";
import type { SymbolTable } from "../../src/elf/symbols.js";
import { BufferSource, type ByteSource } from "../../src/io/byte-source.js";
import { findUsdtSites, readUsdtSites } from "../../src/usdt/notes.js";

/** A non-ProbecError exception (or a broken invariant), with the accessor that raised it. */
export interface Crash {
  readonly accessor: string;
  readonly error: unknown;
}

/** What one sweep did. */
export interface SweepResult {
  readonly crashes: Crash[];
  /** Accessor calls made (for the test to show the sweep did work). */
  readonly calls: number;
  /** Calls refused with a ProbecError. */
  readonly refused: number;
  /** The distinct refusals, as `CODE message-shape` (numbers and quoted names blanked). */
  readonly refusals: Set<string>;
  /** True when ElfFile.open accepted the bytes. */
  readonly opened: boolean;
  /** What the order-sensitive accessors returned (JSON, or "refused"), to compare with a fresh file's answers. */
  readonly answers: Map<string, string>;
  /** Depth reached: symbols resolved, USDT sites decoded, functions located. */
  readonly resolved: number;
  readonly usdtSites: number;
  readonly located: number;
}

/** Names every fixture defines somewhere, plus versioned and malformed requests. */
const NAMES = [
  "main",
  "same_lib_fn",
  "lld_func",
  "vfunc",
  "vfunc@VER_1",
  "vfunc@@VER_2",
  "vonly1",
  "fast_len",
  "dup",
  "alpha",
  "gamma_local",
  "_start",
  "cross_entry",
  "exported_fn",
  "memcpy",
  "nosuch",
];
/** Cap on the names taken from the file itself (each may cost a table scan). */
const OWN_NAMES = 4;

/** Runs the sweep over `bytes` (read through `open`, a BufferSource by default). */
export function sweep(bytes: Uint8Array, open: (bytes: Uint8Array) => ByteSource = (b) => new BufferSource(b)): SweepResult {
  const crashes: Crash[] = [];
  let calls = 0;
  let refused = 0;
  const refusals = new Set<string>();
  let resolved = 0;
  let usdtSites = 0;
  let located = 0;
  const answers = new Map<string, string>();
  const call = <T>(accessor: string, body: () => T): T | undefined => {
    calls++;
    try {
      return body();
    } catch (error) {
      if (error instanceof ProbecError) {
        refused++;
        refusals.add(refusalShape(error));
      } else {
        crashes.push({ accessor, error });
      }
      return undefined;
    }
  };

  const elf = call("ElfFile.open", () => ElfFile.open(open(bytes), "<fuzz>"));
  if (elf === undefined) return { crashes, calls, refused, refusals, opened: false, answers, resolved, usdtSites, located };

  call("header/machineName", () => [elf.header.e_machine, elf.header.e_type, elf.machineName]);
  const phdrs = call("programHeaders", () => [...elf.programHeaders]) ?? [];
  const sections = call("sections", () => [...elf.sections]) ?? [];
  for (const s of sections) {
    call(`section(${JSON.stringify(s.name)})`, () => elf.section(s.name));
    call(`sectionAt(${s.index})`, () => elf.sectionAt(s.index));
    call(`readSection(${s.index} ${s.name})`, () => elf.readSection(s).length);
    call(`stringTable(${s.index})`, () => {
      const table = elf.stringTable(s.index);
      const probes = [0, 1, table.size - 1, table.size, Math.floor(table.size / 2)];
      for (const i of probes) call(`stringTable(${s.index}).get(${i})`, () => table.get(i));
      call(`stringTable(${s.index}).equals`, () => table.equals(1, nameBytes("main"), true));
      return table.size;
    });
  }
  call("section(missing)", () => elf.section(".no.such.section"));
  call("sectionAt(-1/huge)", () => [elf.sectionAt(-1), elf.sectionAt(1 << 30)]);

  const ownNames: string[] = [];
  for (const kind of ["symtab", "dynsym"] as const) {
    const table = call(`symbolTable(${kind})`, () => elf.symbolTable(kind));
    if (table === undefined) continue;
    call(`symbolTable(${kind}) raw+resolve`, () => (resolved += walkTable(table, ownNames, (what, body) => call(`symbolTable(${kind}) ${what}`, body))));
    call(`symbolTable(${kind}).rawAt`, () => [table.rawAt(0), table.rawAt(table.count - 1)]);
    call(`symbolTable(${kind}).rawAt(out of range)`, () => table.rawAt(table.count));
    call(`symbolTable(${kind}).versionOf`, () => [table.versionOf(0), table.versionOf(1), table.versionOf(table.count - 1), table.versionOf(table.count + 5)]);
  }

  const names = [...NAMES, ...ownNames.slice(0, OWN_NAMES)];
  const hash = call("dynamicHash", () => elf.dynamicHash());
  if (hash !== undefined) {
    for (const name of names) call(`dynamicHash().lookup(${JSON.stringify(name)})`, () => hash.lookup(nameBytes(name)));
    call("dynamicHash().lookup(empty)", () => hash.lookup(new Uint8Array(0)));
  }

  call("notes", () => {
    let n = 0;
    for (const note of elf.notes()) n += note.desc.length + note.name.length;
    return n;
  });
  call("buildId", () => elf.buildId());
  call("debugLink", () => elf.debugLink());

  const addresses = new Set<bigint>([0n, 1n, 0xffffffffn, 0xffffffffffffffffn, elf.header.e_entry]);
  for (const p of phdrs) {
    addresses.add(p.p_vaddr);
    addresses.add(p.p_vaddr + BigInt(p.p_filesz) - 1n);
    addresses.add(p.p_vaddr + p.p_memsz);
  }
  for (const address of addresses) {
    for (const kind of ["code", "data", "any"] as const) {
      call(`loadSegmentFor(0x${address.toString(16)}, ${kind})`, () => elf.loadSegmentFor(address, kind));
      call(`fileOffsetOf(0x${address.toString(16)}, ${kind})`, () => elf.fileOffsetOf(address, kind));
    }
  }

  for (const name of NAMES) {
    answers.set(
      `findSymbolIn(${name})`,
      answer(() => {
        const found = call(`findSymbolIn(${JSON.stringify(name)})`, () => findSymbolIn(elf, name));
        if (found === undefined) return undefined;
        located++;
        // The offset is the one of the executable PT_LOAD holding the address (PITFALLS 1).
        if (found.fileOffset !== elf.fileOffsetOf(found.address, "code")) {
          crashes.push({
            accessor: `invariant: findSymbolIn(${JSON.stringify(name)}).fileOffset`,
            error: new Error(
              `fileOffset ${found.fileOffset} but fileOffsetOf(0x${found.address.toString(16)}, code) is ${elf.fileOffsetOf(found.address, "code")}`,
            ),
          });
        }
        return symbolToJson(found);
      }),
    );
  }
  for (const name of names)
    call(`findSymbolIn(${JSON.stringify(name)}, allowIfunc)`, () => findSymbolIn(elf, name, { allowIfunc: true, symbolSources: [elf] }));
  call("ifuncCandidates", () => ifuncCandidates([elf], "fast_len"));
  answers.set(
    "listSymbolsIn",
    answer(() =>
      call("listSymbolsIn()", () => {
        const listed = listSymbolsIn(elf);
        for (const l of listed) {
          if (l.fileOffset !== elf.fileOffsetOf(l.address, "code") && l.fileOffset !== elf.fileOffsetOf(l.address, "data")) {
            crashes.push({
              accessor: "invariant: listSymbolsIn fileOffset",
              error: new Error(`${l.name} at 0x${l.address.toString(16)} listed at offset ${l.fileOffset}, which no PT_LOAD gives`),
            });
            break;
          }
        }
        return listed.map(symbolToJson);
      }),
    ),
  );
  call("listSymbolsIn(all types, *@*)", () => listSymbolsIn(elf, { pattern: "*@*", types: ["func", "ifunc", "object", "notype", "tls", "common"] }).length);
  call("iterateSymbols", () => [...iterateSymbols(elf, { pattern: "*_*" })].length);
  answers.set(
    "readUsdtSites",
    answer(() =>
      call("readUsdtSites", () => {
        const sites = readUsdtSites(elf);
        usdtSites += sites.length;
        return sites.map(usdtSiteToJson);
      }),
    ),
  );
  call("readUsdtSites(filtered)", () => readUsdtSites(elf, { provider: "s*", name: "*e*" }).length);
  call("findUsdtSites(no match)", () => findUsdtSites(elf, { provider: "no-such-provider" }).length);
  return { crashes, calls, refused, refusals, opened: true, answers, resolved, usdtSites, located };
}

/** A refusal's code and the shape of its message: `E_FORMAT .dynsym extends past the end of the file at offset N: N`. */
export function refusalShape(error: ProbecError): string {
  const message = error.message
    .replace(/^(<fuzz>|<buffer>|<source>)(\s\(\.gnu_debugdata\))?: /, "")
    .replace(/"(?:[^"\\]|\\.)*"/g, "S")
    .replace(/\b0x[0-9a-f]+\b|\b\d+\b/g, "N");
  return `${error.code} ${message.slice(0, 160)}`;
}

/** JSON of a value, or "refused" when the accessor threw (the crash itself is recorded by `call`). */
function answer(body: () => unknown): string {
  const value = body();
  return value === undefined ? "refused" : JSON.stringify(value);
}

/**
 * The order-sensitive accessors again on a fresh ElfFile, in the reverse
 * order and with cold caches: the answers must not depend on what was
 * read before (lazy tables, hash tables, per-file variable caches).
 */
function freshAnswers(bytes: Uint8Array): Map<string, string> {
  const answers = new Map<string, string>();
  const attempt = (body: () => unknown): string => {
    try {
      return JSON.stringify(body());
    } catch (error) {
      if (error instanceof ProbecError) return "refused";
      throw error;
    }
  };
  const elf = ElfFile.open(new BufferSource(bytes), "<fuzz>");
  answers.set(
    "readUsdtSites",
    attempt(() => readUsdtSites(elf).map(usdtSiteToJson)),
  );
  answers.set(
    "listSymbolsIn",
    attempt(() => listSymbolsIn(elf).map(symbolToJson)),
  );
  for (const name of [...NAMES].reverse())
    answers.set(
      `findSymbolIn(${name})`,
      attempt(() => symbolToJson(findSymbolIn(elf, name))),
    );
  return answers;
}

/** No debug directories and no path: the public API then looks nowhere but in the bytes (`.gnu_debugdata`). */
const NOWHERE = { debugRoots: [] as string[], useDebugInfo: true };

/**
 * {@link sweep}, then the asynchronous public API over the same bytes
 * (`findSymbol`, `listSymbols`, `findUsdt`, `loadDebugFiles`), which adds
 * the xz decompression of a hostile `.gnu_debugdata` and the opening of the
 * ELF image inside it.
 */
export async function sweepAll(bytes: Uint8Array): Promise<SweepResult> {
  const result = sweep(bytes);
  if (!result.opened) return result;
  const crashes = [...result.crashes];
  let calls = result.calls;
  let refused = result.refused;
  const call = async <T>(accessor: string, body: () => Promise<T>): Promise<T | undefined> => {
    calls++;
    try {
      return await body();
    } catch (error) {
      if (error instanceof ProbecError) {
        refused++;
        result.refusals.add(refusalShape(error));
      } else {
        crashes.push({ accessor, error });
      }
      return undefined;
    }
  };
  await call("fresh file, reverse order", async () => {
    const fresh = freshAnswers(bytes);
    for (const [key, value] of result.answers) {
      if (fresh.get(key) !== value) {
        crashes.push({
          accessor: `invariant: ${key} depends on call order`,
          error: new Error(`after the full sweep: ${value.slice(0, 300)}\nfresh, first: ${(fresh.get(key) ?? "(missing)").slice(0, 300)}`),
        });
      }
    }
  });
  const elf = ElfFile.open(new BufferSource(bytes), "<fuzz>");
  const debug = await call("loadDebugFiles", () => loadDebugFiles(elf, undefined, NOWHERE));
  for (const d of debug ?? []) {
    await call("debug file: listSymbolsIn", async () => listSymbolsIn(d.elf).length);
    d.elf.close();
  }
  await call("findSymbol(alpha)", () => findSymbol(bytes, "alpha", NOWHERE));
  await call("listSymbols", async () => (await listSymbols(bytes, NOWHERE)).length);
  await call("findUsdt", async () => (await findUsdt(bytes, NOWHERE)).length);
  return { ...result, crashes, calls, refused };
}

/** Iterates a whole table, resolving every entry; remembers a few defined names for lookups. */
function walkTable(table: SymbolTable, names: string[], call: <T>(what: string, body: () => T) => T | undefined): number {
  let n = 0;
  for (const raw of table.raw()) {
    n++;
    const symbol = call(`resolve(${raw.index})`, () => table.resolve(raw));
    if (symbol !== undefined && raw.st_shndx !== 0 && symbol.name !== "" && names.length < 16 && !names.includes(symbol.name)) names.push(symbol.name);
  }
  return n;
}
