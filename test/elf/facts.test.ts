/**
 * probec against fixtures/elf/facts.json: expected values that
 * fixtures/elf/tools/facts.mjs derived from readelf/nm, never from probec.
 *
 * The first half is table-driven over `facts.files`, so a new fixture gets
 * its header, build-id, debuglink, USDT and symbol cases for free. The second
 * half names the docs/pitfalls.md items one by one, still reading every address
 * and offset from facts.json.
 *
 * Paths are repo-relative (`fixtures/elf/bin/x`), as the CLI would be given them.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import {
  AmbiguousError,
  type ElfFile,
  IfuncError,
  NotFoundError,
  findSymbol,
  findUsdt,
  listSymbols,
  loadDebugFiles,
  openElf,
  type FoundSymbol,
  type UsdtSite,
} from "../../src/index.js";
import { findSymbolIn } from "../../src/elf/find-symbol.js";
import { PF_X, PT_LOAD } from "../../src/elf/constants.js";

// ---------------------------------------------------------------- facts.json

interface SymbolFact {
  table: ".symtab" | ".dynsym";
  name: string;
  version: string | null;
  default_version: boolean | null;
  value: string;
  size: number;
  type: string;
  bind: string;
  vis?: string;
  file_offset: string | null;
  rule?: string;
  code_addr?: string;
  code_file_offset?: string;
}
interface UsdtFact {
  provider: string;
  name: string;
  note_pc: string;
  note_base: string;
  note_semaphore: string;
  pc: string;
  pc_file_offset: string;
  semaphore: string | null;
  semaphore_file_offset: string | null;
  args: string;
}
interface LoadFact {
  p_offset: string;
  p_vaddr: string;
  p_filesz: string;
  p_memsz: string;
  flags: string;
}
interface FileFacts {
  path: string;
  size: number;
  sha256: string;
  class: "ELF32" | "ELF64";
  endian: "little" | "big";
  e_machine: number;
  e_type: string;
  entry: string;
  e_shnum: number;
  e_flags: string;
  build_id: string | null;
  loads: LoadFact[];
  stapsdt_base_addr: string | null;
  usdt: UsdtFact[];
  symbols_read_from: string;
  symbols: SymbolFact[];
  debuglink?: { name: string; crc: string; debug_file: string; crc_matches: boolean; wrong_debug_file_symbols?: { name: string; value: string }[] };
  build_id_debug_file?: string;
  gnu_debugdata?: { symbols: { name: string; value: string; file_offset: string }[] };
}

const FIXTURES = fileURLToPath(new URL("../../fixtures/elf/", import.meta.url));
const facts = JSON.parse(readFileSync(join(FIXTURES, "facts.json"), "utf8")) as { files: Record<string, FileFacts> };

/** `bin/x` (a facts.json path) → `fixtures/elf/bin/x`, relative to where vitest runs (the repo root). */
const fixture = (factsPath: string): string => relative(process.cwd(), join(FIXTURES, factsPath));
const DEBUG_ROOT = fixture("debug-root");
const file = (name: string): FileFacts => {
  const f = facts.files[name];
  if (f === undefined) throw new Error(`facts.json has no file ${name}`);
  return f;
};
/** Canonical lower-case hex of a facts.json value ("0x0000401000" and "0x401000" agree). */
const hx = (value: string | bigint | number): string => `0x${BigInt(value).toString(16)}`;
/** Debug roots that make the run hermetic: the fixture debug root only where facts found the file there. */
const debugRootsFor = (f: FileFacts): string[] => (f.build_id_debug_file !== undefined ? [DEBUG_ROOT] : []);

const opened: ElfFile[] = [];
const open = (path: string): ElfFile => {
  const elf = openElf(path);
  opened.push(elf);
  return elf;
};
afterAll(() => opened.forEach((e) => e.close()));

// ------------------------------------------------------- expected definitions

/** One function or variable definition, as probec should report it. */
interface Definition {
  name: string;
  version: string | null;
  isDefaultVersion: boolean;
  address: string;
  fileOffset: string;
  size: number;
  type: string;
  binding: string;
  kind: "code" | "data";
}

/**
 * Where a file's symbol rows come from: the file itself, a debug file
 * probec must find, a debug file it must reject (CRC mismatch), or the
 * unstripped original of an sstripped file (then only `.dynsym` survives).
 */
function symbolOrigin(f: FileFacts): "self" | "debug" | "rejected" | "dynamic-only" {
  if (f.symbols_read_from === f.path) return "self";
  if (f.debuglink?.crc_matches === false) return "rejected";
  if (f.debuglink !== undefined || f.build_id_debug_file !== undefined || f.gnu_debugdata !== undefined) return "debug";
  return "dynamic-only";
}

/** Defined rows, one per (name, value, version); where `.dynsym` has the name, its rows win, since only they carry versym versions. */
function definitions(f: FileFacts, rows: SymbolFact[] = f.symbols): Definition[] {
  const groups = new Map<string, SymbolFact[]>();
  for (const row of rows) {
    if (row.file_offset === null) continue;
    const key = `${row.name}@${BigInt(row.value)}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const merged = new Map<string, SymbolFact>();
  for (const group of groups.values()) {
    const dynamic = group.filter((r) => r.table === ".dynsym");
    for (const row of dynamic.length > 0 ? dynamic : group) merged.set(`${row.name}@${BigInt(row.value)}@${row.version ?? ""}`, row);
  }
  return [...merged.values()].map((row) => ({
    name: row.name,
    version: row.version,
    isDefaultVersion: row.default_version ?? true,
    ...codeLocation(row),
    size: row.size,
    type: row.type.toLowerCase(),
    binding: row.bind.toLowerCase(),
    kind: row.type === "FUNC" || row.type === "IFUNC" || row.type === "NOTYPE" ? "code" : "data",
  }));
}

/**
 * Where a probe on this symbol goes. Usually st_value and its file offset;
 * facts.json adds `code_addr` where that is not so (ARM Thumb bit, ppc64
 * ELFv1 `.opd` descriptors). For ppc64 ELFv2 functions readelf's Vis column
 * shows `[<localentry>: N]`: the probe goes on the local entry point, N
 * bytes in, which local calls (`bl fn+8`) and global ones both pass, as
 * `perf probe` does (tools/perf/arch/powerpc/util/sym-handling.c).
 */
function codeLocation(row: SymbolFact): { address: string; fileOffset: string } {
  const localEntry = BigInt(/\[<localentry>: (\d+)\]/.exec(row.vis ?? "")?.[1] ?? 0);
  return {
    address: hx(BigInt(row.code_addr ?? row.value) + localEntry),
    fileOffset: hx(BigInt(row.code_file_offset ?? (row.file_offset as string)) + localEntry),
  };
}

type Outcome = { found: Definition } | { ifunc: Definition } | { ambiguous: string[] };

/** Every request probec should answer for one file's code definitions: `name`, `name@VER`, `name@@VER`. */
function requests(defs: Definition[]): { request: string; outcome: Outcome }[] {
  const out: { request: string; outcome: Outcome }[] = [];
  const wrap = (d: Definition): Outcome => (d.type === "ifunc" ? { ifunc: d } : { found: d });
  const names = [...new Set(defs.filter((d) => d.kind === "code").map((d) => d.name))];
  for (const name of names) {
    const group = defs.filter((d) => d.kind === "code" && d.name === name);
    for (const d of group) if (d.version !== null) out.push({ request: `${name}${d.isDefaultVersion ? "@@" : "@"}${d.version}`, outcome: wrap(d) });
    // PITFALLS 2 and 4: a bare name is the default version; weak loses to non-weak; two non-weak are ambiguous.
    const defaults = group.filter((d) => d.isDefaultVersion);
    const strong = defaults.filter((d) => d.binding !== "weak");
    const pool = strong.length > 0 ? strong : defaults;
    const only = pool[0];
    out.push({ request: name, outcome: pool.length === 1 && only !== undefined ? wrap(only) : { ambiguous: pool.map((d) => d.address) } });
  }
  return out;
}

/** The items of a note's argument string: split at blanks, except inside aarch64/arm `[...]` operands. */
const argItems = (text: string): string[] => text.match(/(?:[^\s[]|\[[^\]]*\])+/g) ?? [];

const describeOutcome = (o: Outcome): string =>
  "found" in o ? `${o.found.address} @ file offset ${o.found.fileOffset}` : "ifunc" in o ? "IfuncError" : `AmbiguousError listing ${o.ambiguous.join(" and ")}`;

const project = (s: FoundSymbol): Omit<Definition, "kind"> => ({
  name: s.name,
  version: s.version,
  isDefaultVersion: s.isDefaultVersion,
  address: hx(s.address),
  fileOffset: hx(s.fileOffset),
  size: s.size,
  type: s.type,
  binding: s.binding,
});
const strip = ({ kind: _kind, ...d }: Definition): Omit<Definition, "kind"> => d;

async function expectOutcome(lookup: () => Promise<FoundSymbol>, outcome: Outcome): Promise<void> {
  if ("found" in outcome) {
    expect(project(await lookup())).toEqual(strip(outcome.found));
  } else if ("ifunc" in outcome) {
    await expect(lookup()).rejects.toBeInstanceOf(IfuncError);
  } else {
    const error = await lookup().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AmbiguousError);
    const candidates = (error as AmbiguousError).candidates;
    expect(candidates).toHaveLength(outcome.ambiguous.length);
    for (const address of outcome.ambiguous) expect(candidates.filter((c) => c.includes(` at ${address} `))).toHaveLength(1);
  }
}

// ------------------------------------------------------------- table-driven

for (const [name, f] of Object.entries(facts.files)) {
  const path = fixture(f.path);
  const origin = symbolOrigin(f);
  const debugRoots = debugRootsFor(f);

  describe(name, () => {
    test("the fixture is the one facts.json describes (size, sha256)", () => {
      const bytes = readFileSync(path);
      expect({ size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") }).toEqual({ size: f.size, sha256: f.sha256 });
    });

    test(`header: ${f.class} ${f.endian}-endian, e_machine ${f.e_machine}, ${f.e_type}`, () => {
      const h = open(path).header;
      expect({
        class: h.bits === 64 ? "ELF64" : "ELF32",
        endian: h.littleEndian ? "little" : "big",
        e_machine: h.e_machine,
        e_type: h.e_type,
        entry: hx(h.e_entry),
        e_flags: hx(h.e_flags),
        e_shnum: h.e_shnum,
      }).toEqual({
        class: f.class,
        endian: f.endian,
        e_machine: f.e_machine,
        e_type: { EXEC: 2, DYN: 3 }[f.e_type],
        entry: hx(f.entry),
        e_flags: hx(f.e_flags.split(",")[0] as string),
        e_shnum: f.e_shnum,
      });
    });

    test("PT_LOAD segments", () => {
      const loads = open(path).programHeaders.filter((p) => p.p_type === PT_LOAD);
      const flags = (p: number): string => `${p & 4 ? "R" : ""}${p & 2 ? "W" : ""}${p & PF_X ? "E" : ""}`;
      expect(
        loads.map((p) => ({ p_offset: hx(p.p_offset), p_vaddr: hx(p.p_vaddr), p_filesz: hx(p.p_filesz), p_memsz: hx(p.p_memsz), flags: flags(p.p_flags) })),
      ).toEqual(f.loads.map((l) => ({ p_offset: hx(l.p_offset), p_vaddr: hx(l.p_vaddr), p_filesz: hx(l.p_filesz), p_memsz: hx(l.p_memsz), flags: l.flags })));
    });

    test(`build-id ${f.build_id ?? "(none)"}`, () => {
      expect(open(path).buildId() ?? null).toBe(f.build_id);
    });

    test(`debuglink ${f.debuglink === undefined ? "(none)" : `${f.debuglink.name} crc ${f.debuglink.crc}`}`, () => {
      const link = open(path).debugLink();
      expect(link === undefined ? null : { name: link.fileName, crc: hx(link.crc) }).toEqual(
        f.debuglink === undefined ? null : { name: f.debuglink.name, crc: hx(f.debuglink.crc) },
      );
    });

    test(`findUsdt: ${f.usdt.length} sites with pc, file offset, semaphore offset and args in note order`, async () => {
      const sites = await findUsdt(path, { debugRoots });
      const got = (s: UsdtSite) => ({
        file: s.file,
        probe: `${s.provider}:${s.name}`,
        pc: hx(s.address),
        pcFileOffset: hx(s.fileOffset),
        semaphore: s.semaphore === undefined ? null : hx(s.semaphore),
        semaphoreFileOffset: s.semaphoreOffset === undefined ? null : hx(s.semaphoreOffset),
        argsText: s.argsText,
        // PITFALLS 10: one decoded argument per item, at its own index, even when unsupported.
        args: s.args.map((a) => `${a.index}:${a.spec}`),
      });
      const want = (u: UsdtFact) => ({
        file: path,
        probe: `${u.provider}:${u.name}`,
        pc: hx(u.pc),
        pcFileOffset: hx(u.pc_file_offset),
        semaphore: u.semaphore === null ? null : hx(u.semaphore),
        semaphoreFileOffset: u.semaphore_file_offset === null ? null : hx(u.semaphore_file_offset),
        argsText: u.args,
        args: argItems(u.args).map((a, i) => `${i}:${a}`),
      });
      expect(sites.map(got)).toEqual(f.usdt.map(want));
    });

    const publicDefs = definitions(f, origin === "dynamic-only" ? f.symbols.filter((s) => s.table === ".dynsym") : f.symbols);
    for (const { request, outcome } of requests(publicDefs)) {
      const shown = origin === "rejected" ? "NotFoundError (the debug file's CRC does not match)" : describeOutcome(outcome);
      test(`findSymbol("${request}") → ${shown}`, async () => {
        const lookup = () => findSymbol(path, request, { debugRoots });
        if (origin === "rejected") await expect(lookup()).rejects.toBeInstanceOf(NotFoundError);
        else await expectOutcome(lookup, outcome);
      });
    }

    const sources = origin === "self" ? "" : ` with symbols from ${f.symbols_read_from}`;
    for (const { request, outcome } of requests(definitions(f))) {
      test(`findSymbolIn("${request}")${sources} → ${describeOutcome(outcome)}`, async () => {
        const symbolSources = origin === "self" ? [] : [open(fixture(f.symbols_read_from))];
        await expectOutcome(async () => findSymbolIn(open(path), request, { symbolSources }), outcome);
      });
    }

    for (const symbol of [...new Set(f.symbols.map((s) => s.name))]) {
      const defs = origin === "rejected" ? [] : publicDefs.filter((d) => d.name === symbol);
      test(`listSymbols("${symbol}") → ${defs.length === 0 ? "nothing" : defs.map((d) => `${d.address} @ ${d.fileOffset}`).join(", ")}`, async () => {
        const listed = await listSymbols(path, { pattern: symbol, types: ["func", "ifunc", "object"], debugRoots });
        const byAddress = (a: { address: string; version: string | null }, b: { address: string; version: string | null }) =>
          BigInt(a.address) === BigInt(b.address) ? String(a.version).localeCompare(String(b.version)) : BigInt(a.address) < BigInt(b.address) ? -1 : 1;
        expect(listed.map(project).sort(byAddress)).toEqual(defs.map(strip).sort(byAddress));
      });
    }

    const imports = [
      ...new Set(f.symbols.filter((s) => s.file_offset === null && !f.symbols.some((d) => d.name === s.name && d.file_offset !== null)).map((s) => s.name)),
    ];
    for (const symbol of imports) {
      test(`findSymbol("${symbol}") → NotFoundError (only an undefined import here)`, async () => {
        await expect(findSymbol(path, symbol, { debugRoots })).rejects.toBeInstanceOf(NotFoundError);
      });
    }
  });
}

// ------------------------------------------------------------ named pitfalls

/** The one row of `file` called `name` in `table` (optionally with `version`). */
function row(fileName: string, name: string, where: Partial<Pick<SymbolFact, "table" | "version" | "bind" | "default_version">> = {}): SymbolFact {
  const rows = file(fileName).symbols.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s[k as keyof SymbolFact] === v));
  if (rows.length === 0) throw new Error(`facts.json: ${fileName} has no symbol ${name} ${JSON.stringify(where)}`);
  return rows[0] as SymbolFact;
}
const located = (s: FoundSymbol) => ({ address: hx(s.address), fileOffset: hx(s.fileOffset) });
const at = codeLocation;
const siteAt = (s: UsdtSite) => ({
  pc: hx(s.address),
  fileOffset: hx(s.fileOffset),
  semaphoreOffset: s.semaphoreOffset === undefined ? null : hx(s.semaphoreOffset),
});
const factSiteAt = (u: UsdtFact) => ({
  pc: hx(u.pc),
  fileOffset: hx(u.pc_file_offset),
  semaphoreOffset: u.semaphore_file_offset === null ? null : hx(u.semaphore_file_offset),
});

describe("PITFALLS 1: file offsets come from the PT_LOAD holding the address", () => {
  const regs = row("usdt_ops_gcc_O2_nopie", "regs");
  test(`non-PIE usdt_ops_gcc_O2_nopie: regs at ${regs.value} has file offset ${regs.file_offset}, not its address`, async () => {
    expect(BigInt(regs.value)).not.toBe(BigInt(regs.file_offset as string));
    expect(located(await findSymbol(fixture(file("usdt_ops_gcc_O2_nopie").path), "regs"))).toEqual(at(regs));
    const [site] = await findUsdt(fixture(file("usdt_ops_gcc_O2_nopie").path), { provider: "ops", name: "regs" });
    expect(site === undefined ? undefined : siteAt(site)).toEqual(factSiteAt(file("usdt_ops_gcc_O2_nopie").usdt.find((u) => u.name === "regs") as UsdtFact));
  });

  const lld = file("liblld.so");
  const rx = lld.loads.find((l) => l.flags === "RE") as LoadFact;
  test(`lld-linked liblld.so: R-E segment p_offset ${rx.p_offset} ≠ p_vaddr ${rx.p_vaddr}, so lld_func ${row("liblld.so", "lld_func").value} → ${row("liblld.so", "lld_func").file_offset}`, async () => {
    expect(BigInt(rx.p_offset)).not.toBe(BigInt(rx.p_vaddr));
    const found = await findSymbol(fixture(lld.path), "lld_func");
    expect(located(found)).toEqual(at(row("liblld.so", "lld_func", { table: ".dynsym" })));
    expect(found.address).not.toBe(BigInt(found.fileOffset));
    // PITFALLS 7 in the same file: each semaphore's offset is in the RW segment, which is shifted too.
    expect((await findUsdt(fixture(lld.path))).map(siteAt)).toEqual(lld.usdt.map(factSiteAt));
  });

  for (const name of ["liblld_sstrip.so", "nopie_rdynamic_sstrip"]) {
    test(`sstripped ${name}: no section headers, yet .dynsym (via PT_DYNAMIC) and the build-id (via PT_NOTE) are found`, async () => {
      const f = file(name);
      const elf = open(fixture(f.path));
      expect({ e_shnum: elf.header.e_shnum, sections: elf.sections.length, buildId: elf.buildId() }).toEqual({ e_shnum: 0, sections: 0, buildId: f.build_id });
      const dynamic = f.symbols.filter((s) => s.table === ".dynsym");
      expect(dynamic.length).toBeGreaterThan(0);
      for (const r of dynamic) expect(located(await findSymbol(fixture(f.path), r.name, { useDebugInfo: false }))).toEqual(at(r));
    });
  }
});

describe("PITFALLS 2: versioned symbols (libver.so)", () => {
  const path = fixture(file("libver.so").path);
  const v1 = row("libver.so", "vfunc", { table: ".dynsym", version: "VER_1" });
  const v2 = row("libver.so", "vfunc", { table: ".dynsym", version: "VER_2" });
  test(`bare vfunc → the default vfunc@@VER_2 at ${v2.value}, not the compat ${v1.value}`, async () => {
    const found = await findSymbol(path, "vfunc");
    expect({ ...located(found), version: found.version, isDefaultVersion: found.isDefaultVersion }).toEqual({
      ...at(v2),
      version: "VER_2",
      isDefaultVersion: true,
    });
  });
  test(`vfunc@VER_1 → the hidden compat version at ${v1.value}`, async () => {
    const found = await findSymbol(path, "vfunc@VER_1");
    expect({ ...located(found), version: found.version, isDefaultVersion: found.isDefaultVersion }).toEqual({
      ...at(v1),
      version: "VER_1",
      isDefaultVersion: false,
    });
  });
  test("vfunc@@VER_2 and vfunc@VER_2 (as dlvsym would) → the default version", async () => {
    expect(located(await findSymbol(path, "vfunc@@VER_2"))).toEqual(at(v2));
    expect(located(await findSymbol(path, "vfunc@VER_2"))).toEqual(at(v2));
  });
  test("listSymbols globs on name@VERSION: vfunc@* lists both versions, vfunc@@* only the default", async () => {
    const list = async (pattern: string) =>
      (await listSymbols(path, { pattern })).map((s) => `${s.name}${s.isDefaultVersion ? "@@" : "@"}${s.version} ${hx(s.address)}`);
    expect(await list("vfunc@*")).toEqual([`vfunc@VER_1 ${hx(v1.value)}`, `vfunc@@VER_2 ${hx(v2.value)}`]);
    expect(await list("vfunc@@*")).toEqual([`vfunc@@VER_2 ${hx(v2.value)}`]);
  });
  for (const request of ["vfunc@@VER_1", "vfunc@VER_3"]) {
    test(`${request} → NotFoundError whose hint lists the versions that exist`, async () => {
      const error = await findSymbol(path, request).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NotFoundError);
      const hint = (error as NotFoundError).hints.find((h) => h.startsWith("versions that exist: "));
      expect(hint?.slice("versions that exist: ".length).split(", ").sort()).toEqual(["vfunc@@VER_2", "vfunc@VER_1"]);
    });
  }
});

describe("PITFALLS 3: IFUNC (libifunc.so)", () => {
  const path = fixture(file("libifunc.so").path);
  const ifunc = row("libifunc.so", "fast_len", { table: ".dynsym" });
  const resolver = row("libifunc.so", "fast_len_resolver");
  test("fast_len is refused with an IfuncError naming exactly the implementations __fast_len_avx2 and __fast_len_sse2 (not the resolver)", async () => {
    const error = await findSymbol(path, "fast_len").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IfuncError);
    expect((error as IfuncError).code).toBe("E_IFUNC");
    expect([...(error as IfuncError).candidates].sort()).toEqual(["__fast_len_avx2", "__fast_len_sse2"]);
  });
  test(`allowIfunc: true returns the resolver's own offset ${ifunc.file_offset} (= fast_len_resolver)`, async () => {
    expect(BigInt(resolver.value)).toBe(BigInt(ifunc.value));
    const found = await findSymbol(path, "fast_len", { allowIfunc: true });
    expect({ ...located(found), type: found.type, binding: found.binding }).toEqual({ ...at(ifunc), type: "ifunc", binding: "global" });
  });
  test("each named implementation can be probed (LOCAL symbols in .symtab)", async () => {
    for (const name of ["__fast_len_avx2", "__fast_len_sse2"]) expect(located(await findSymbol(path, name))).toEqual(at(row("libifunc.so", name)));
  });
});

describe("PITFALLS 4: ambiguity and weak symbols", () => {
  test("dup_local: two LOCAL dup → AmbiguousError listing both addresses", async () => {
    const error = await findSymbol(fixture(file("dup_local").path), "dup").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AmbiguousError);
    const addresses = file("dup_local")
      .symbols.filter((s) => s.name === "dup")
      .map((s) => hx(s.value));
    expect(addresses).toHaveLength(2);
    const { candidates, message, code } = error as AmbiguousError;
    expect(code).toBe("E_AMBIGUOUS");
    expect(candidates).toHaveLength(2);
    for (const address of addresses) {
      expect(candidates.filter((c) => c.includes(address))).toHaveLength(1);
      expect(message).toContain(address);
    }
  });
  test("dup_weakglobal: the GLOBAL dup wins over the WEAK one", async () => {
    const found = await findSymbol(fixture(file("dup_weakglobal").path), "dup");
    expect({ ...located(found), binding: found.binding }).toEqual({ ...at(row("dup_weakglobal", "dup", { bind: "GLOBAL" })), binding: "global" });
  });
  test("dup_local: a WEAK-only weakfn is found", async () => {
    const found = await findSymbol(fixture(file("dup_local").path), "weakfn");
    expect({ ...located(found), binding: found.binding }).toEqual({ ...at(row("dup_local", "weakfn")), binding: "weak" });
  });
});

describe("PITFALLS 5: stripped binaries take symbols from debug data, offsets from themselves", () => {
  const cases = [
    { name: "strip_debuglink", via: "debuglink", debugFile: file("strip_debuglink").debuglink?.debug_file },
    { name: "strip_dotdebug", via: "debuglink", debugFile: file("strip_dotdebug").debuglink?.debug_file },
    { name: "strip_buildid", via: "build-id", debugFile: file("strip_buildid").build_id_debug_file },
    { name: "strip_minidebug", via: "gnu_debugdata", debugFile: file("strip_minidebug").path },
  ];
  for (const { name, via, debugFile } of cases) {
    const f = file(name);
    const gamma = row(name, "gamma_local");
    test(`${name}: gamma_local (LOCAL, only in the ${via} debug data) → ${gamma.file_offset} from the stripped file's own PT_LOADs`, async () => {
      const path = fixture(f.path);
      const elf = open(path);
      expect(elf.symbolTable("symtab")).toBeUndefined();
      await expect(findSymbol(path, "gamma_local", { useDebugInfo: false, debugRoots: debugRootsFor(f) })).rejects.toBeInstanceOf(NotFoundError);
      const debug = await loadDebugFiles(elf, path, { debugRoots: debugRootsFor(f) });
      try {
        expect(debug.map((d) => ({ via: d.via, path: d.path }))).toEqual([{ via, path: fixture(debugFile as string) }]);
        // The debug file's own segments are not file-backed: it could not give this offset.
        const debugElf = (debug[0] as { elf: ElfFile }).elf;
        if (via !== "gnu_debugdata") expect(debugElf.fileOffsetOf(BigInt(gamma.value), "code")).toBeUndefined();
      } finally {
        debug.forEach((d) => d.elf.close());
      }
      const found = await findSymbol(path, "gamma_local", { debugRoots: debugRootsFor(f) });
      expect({ ...located(found), binding: found.binding }).toEqual({ ...at(gamma), binding: "local" });
    });
  }

  test("strip_debuglink passed as an opened ElfFile (as the CLI does): the debug file next to it is still found", async () => {
    const f = file("strip_debuglink");
    const elf = open(fixture(f.path));
    const found = await findSymbol(elf, "gamma_local", { debugRoots: [] }).then(located, (e: Error) => e.message);
    expect(found).toEqual(at(row("strip_debuglink", "gamma_local")));
  });

  const badcrc = file("strip_badcrc");
  const wrong = badcrc.debuglink?.wrong_debug_file_symbols?.find((s) => s.name === "gamma_local");
  test(`strip_badcrc: the debug file with the wrong CRC is skipped, so gamma_local is NotFoundError (never the other build's ${wrong?.value})`, async () => {
    const path = fixture(badcrc.path);
    expect(badcrc.debuglink?.crc_matches).toBe(false);
    const skipped: [string, string][] = [];
    const debug = await loadDebugFiles(open(path), path, { debugRoots: [], onSkip: (p, why) => skipped.push([p, why]) });
    expect(debug).toEqual([]);
    expect(skipped.map(([p]) => p)).toEqual([fixture(badcrc.debuglink?.debug_file as string)]);
    expect(skipped[0]?.[1]).toMatch(/CRC/);
    for (const name of ["gamma_local", "alpha", "beta", "main"]) await expect(findSymbol(path, name, { debugRoots: [] })).rejects.toBeInstanceOf(NotFoundError);
  });
  test("strip_badcrc: the build-id debug file (same build-id) is still accepted from a debug root", async () => {
    const found = await findSymbol(fixture(badcrc.path), "gamma_local", { debugRoots: [DEBUG_ROOT] });
    expect(located(found)).toEqual(at(row("strip_badcrc", "gamma_local")));
  });
});

describe("PITFALLS 6-9: USDT notes", () => {
  test("usdt_prelinked: pc is adjusted by .stapsdt.base (note pc ≠ pc), semaphores are not", async () => {
    const f = file("usdt_prelinked");
    expect(f.usdt.every((u) => BigInt(u.note_pc) !== BigInt(u.pc) && u.note_semaphore === u.semaphore)).toBe(true);
    expect((await findUsdt(fixture(f.path))).map((s) => ({ ...siteAt(s), semaphore: s.semaphore === undefined ? null : hx(s.semaphore) }))).toEqual(
      f.usdt.map((u) => ({ ...factSiteAt(u), semaphore: hx(u.note_semaphore) })),
    );
  });
  test("usdt_base0: note base 0 means no adjustment (pc stays the note pc)", async () => {
    const f = file("usdt_base0");
    expect(f.stapsdt_base_addr).not.toBeNull();
    expect(f.usdt.every((u) => BigInt(u.note_base) === 0n)).toBe(true);
    expect((await findUsdt(fixture(f.path))).map((s) => hx(s.address))).toEqual(f.usdt.map((u) => hx(u.note_pc)));
  });
  test("usdt_sema_nopie: each semaphore's ref_ctr_offset is its file offset in the RW segment", async () => {
    const f = file("usdt_sema_nopie");
    const sites = await findUsdt(fixture(f.path));
    expect(sites.map((s) => [hx(s.semaphore ?? 0n), hx(s.semaphoreOffset ?? 0)])).toEqual(
      f.usdt.map((u) => [hx(u.semaphore ?? 0), hx(u.semaphore_file_offset ?? 0)]),
    );
    expect(sites.every((s) => s.semaphore !== BigInt(s.semaphoreOffset ?? -1))).toBe(true);
  });
  test("usdt_persite: two persite:fire sites keep two different semaphore offsets", async () => {
    const f = file("usdt_persite");
    const sites = await findUsdt(fixture(f.path), { provider: "persite", name: "fire" });
    expect(sites.map(siteAt)).toEqual(f.usdt.map(factSiteAt));
    expect(new Set(sites.map((s) => s.semaphoreOffset)).size).toBe(2);
  });
  test("findUsdt's probe-name filter { name } keeps the file's own name in UsdtSite.file", async () => {
    const path = fixture(file("usdt_same").path);
    expect((await findUsdt(path, { name: "probe" })).map((s) => `${s.file}|${s.provider}:${s.name}`)).toEqual([`${path}|same:probe`]);
  });
  test("same:probe in libusdt_same.so and usdt_same: listings keyed by (file, provider, name)", async () => {
    const listing = new Map<string, UsdtSite>();
    for (const name of ["libusdt_same.so", "usdt_same"]) {
      for (const s of await findUsdt(fixture(file(name).path), { provider: "same", name: "probe" })) listing.set(`${s.file}|${s.provider}:${s.name}`, s);
    }
    expect([...listing.keys()].sort()).toEqual([`${fixture(file("libusdt_same.so").path)}|same:probe`, `${fixture(file("usdt_same").path)}|same:probe`]);
    for (const name of ["libusdt_same.so", "usdt_same"]) {
      const s = listing.get(`${fixture(file(name).path)}|same:probe`) as UsdtSite;
      expect(siteAt(s)).toEqual(factSiteAt(file(name).usdt.find((u) => u.name === "probe") as UsdtFact));
    }
  });
});

describe("PITFALLS 14: other architectures, chosen by e_machine", () => {
  const cross = Object.entries(facts.files).filter(([, f]) => f.e_machine !== 62);
  test.each(cross.map(([name]) => name))("%s: every USDT argument is decoded by its own architecture's parser", async (name) => {
    const sites = await findUsdt(fixture(file(name).path));
    expect(sites.length).toBe(file(name).usdt.length);
    const reasons = sites.flatMap((s) => s.args.flatMap((a) => (a.kind === "unsupported" ? [a.reason] : [])));
    expect(reasons.filter((r) => r.includes("not decoded by probec"))).toEqual([]);
  });
  test("armhf: Thumb functions (odd st_value) are found at the even code address", async () => {
    const f = file("usdt_cross_armhf_O2");
    const thumb = f.symbols.filter((s) => s.code_addr !== undefined);
    expect(thumb.length).toBeGreaterThan(0);
    for (const r of thumb) {
      expect(BigInt(r.value) & 1n).toBe(1n);
      expect(located(await findSymbol(fixture(f.path), r.name))).toEqual(at(r));
    }
  });
  test("ppc64 ELFv1: findSymbol follows the .opd function descriptor to the code address and its offset", async () => {
    const f = file("usdt_cross_ppc64_O2");
    const described = f.symbols.filter((s) => s.rule?.includes("ELFv1") === true);
    expect(described.length).toBeGreaterThan(0);
    const got = [];
    for (const r of described) got.push(await findSymbol(fixture(f.path), r.name).then(located, (e: Error) => e.message));
    expect(got).toEqual(described.map(at));
  });
});
