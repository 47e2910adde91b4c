/**
 * The layer table of docs/design.md, enforced: every import (static,
 * re-export, `import type`, dynamic) of every file under src/ is read with
 * TypeScript's own pre-processor and checked against the row of the file's
 * folder, parsed from the document itself so the two cannot drift apart.
 * Folders the design calls pure (no `node:*` in their row) must not import
 * any Node built-in; those named pure by docs/style.md are checked by name
 * too, so a row cannot quietly grow `node:*`.
 *
 * A hand-written test rather than dependency-cruiser: the rule set is one
 * table that already lives in the design document, and reading it from
 * there is the point; a second configuration format would be one more
 * place to keep in step.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, normalize, relative, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const SRC = join(ROOT, "src");
const DESIGN = readFileSync(join(ROOT, "docs/design.md"), "utf8");

/** Folders that must stay free of `node:*` whatever their row says (docs/style.md, house rule 1). */
const PURE = ["elf", "usdt", "dsl", "locate", "rootfs", "plan", "golang"];

interface Row {
  /** `elf` for the folder `elf/`, `errors` for the file `errors.ts`. */
  readonly unit: string;
  readonly allowed: ReadonlySet<string>;
}

/** The rows of the markdown table whose header starts with `header`: each row's cells. */
function tableAfter(markdown: string, header: string): string[][] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.startsWith(header));
  if (start < 0) throw new Error(`docs/design.md has no table with the header "${header}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, line.endsWith("|") ? -1 : undefined)
        .split("|")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const ticks = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** `elf/` → `elf`, `errors.ts` → `errors`; a file in a folder keeps its path (`cli/internal.ts`). */
const unitName = (cell: string): string => {
  const [name] = ticks(cell);
  if (name === undefined) throw new Error(`docs/design.md: a layer row without a \`name\`: ${cell}`);
  if (name.endsWith("/")) return name.slice(0, -1);
  return name.includes("/") ? name : name.replace(/\.ts$/, "");
};

const layers: Row[] = tableAfter(DESIGN, "| folder | does | may import |").map((cells) => ({
  unit: unitName(cells[0]!),
  allowed: new Set(ticks(cells[2] ?? "")),
}));
const exceptions = tableAfter(DESIGN, "| file | imports | why it is still there |").map((cells) => ({ file: ticks(cells[0]!)[0]!, imports: ticks(cells[1]!) }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return /\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The unit a file under src/ belongs to: its top folder, or its own name for a top-level file. */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? parts[0]!.replace(/\.(ts|js)$/, "") : parts[0]!;
}

interface Import {
  readonly specifier: string;
  readonly line: number;
}

/** Every import of a file: static, re-exports, `import type`, `import("…")`, `require("…")`. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const info = ts.preProcessFile(text, true, true);
  const lineOf = (pos: number): number => text.slice(0, pos).split("\n").length;
  const found = info.importedFiles.map((f) => ({ specifier: f.fileName, line: lineOf(f.pos) }));
  // A dynamic import of a computed name cannot be checked, so it is not allowed.
  for (const m of text.matchAll(/\bimport\s*\(\s*(?!["'])(?!\))/g)) {
    const before = text.slice(text.lastIndexOf("\n", m.index) + 1, m.index);
    if (!/^\s*(\*|\/\/)/.test(before)) found.push({ specifier: "<computed>", line: lineOf(m.index) });
  }
  return found;
}

/** What an import names in the table's terms: a unit of src/, `node:*`, or a package name. */
function targetOf(file: string, specifier: string): { kind: "unit" | "node" | "package"; name: string } {
  if (specifier.startsWith(".")) {
    const target = normalize(join(dirname(file), specifier));
    if (!target.startsWith(SRC + sep)) return { kind: "unit", name: `outside src/: ${relative(ROOT, target)}` };
    return { kind: "unit", name: unitOf(target) };
  }
  if (specifier.startsWith("node:") || builtinModules.includes(specifier)) return { kind: "node", name: "node:*" };
  const parts = specifier.split("/");
  return { kind: "package", name: specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]! };
}

const files = filesUnder(SRC);
const rowOf = new Map(layers.map((r) => [r.unit, r]));

describe("docs/design.md's layer table", () => {
  it("has a row for every folder and top-level file under src/", () => {
    const units = [...new Set(files.map(unitOf))].sort();
    expect(units.filter((u) => !rowOf.has(u))).toEqual([]);
  });

  it("names only units that exist or are planned, and lists no unit twice", () => {
    const names = layers.map((r) => r.unit);
    expect(names.length).toBe(new Set(names).size);
    for (const row of layers) {
      if (row.unit.includes("/")) expect(existsSync(join(SRC, row.unit)), `docs/design.md has a row for src/${row.unit}, which does not exist`).toBe(true);
      for (const allowed of row.allowed) {
        if (allowed === "node:*") continue;
        const isUnit = rowOf.has(allowed) && !allowed.includes("/");
        const isPackage = existsSync(join(ROOT, "node_modules", allowed, "package.json"));
        expect(isUnit || isPackage, `${row.unit}'s row allows "${allowed}", which is neither a row of the table nor an installed package`).toBe(true);
      }
    }
  });

  it("allows no cycle between units", () => {
    const edges = new Map<string, Set<string>>();
    for (const row of layers) {
      const from = row.unit.split("/")[0]!;
      const set = edges.get(from) ?? new Set<string>();
      for (const to of row.allowed) if (rowOf.has(to) && to !== from) set.add(to);
      edges.set(from, set);
    }
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (unit: string, path: string[]): void => {
      if (state.get(unit) === "done") return;
      if (state.get(unit) === "open") {
        cycles.push([...path.slice(path.indexOf(unit)), unit].join(" → "));
        return;
      }
      state.set(unit, "open");
      for (const next of edges.get(unit) ?? []) visit(next, [...path, unit]);
      state.set(unit, "done");
    };
    for (const unit of edges.keys()) visit(unit, []);
    expect(cycles).toEqual([]);
  });

  it("calls elf, usdt, dsl, locate, rootfs, plan and golang pure (no node:* in their rows)", () => {
    for (const unit of PURE) {
      expect(rowOf.get(unit), `docs/design.md has no row for ${unit}/`).toBeDefined();
      expect(rowOf.get(unit)!.allowed.has("node:*"), `${unit}/ must stay pure`).toBe(false);
    }
  });
});

describe("every import under src/ keeps to the layer table", () => {
  const used = new Set<string>();
  const violations: string[] = [];
  for (const file of files) {
    const unit = unitOf(file);
    const path = relative(SRC, file);
    const row = rowOf.get(path.split(sep).join("/")) ?? rowOf.get(unit);
    if (row === undefined) continue; // reported by the test above
    for (const imp of importsOf(file)) {
      if (imp.specifier === "<computed>") {
        violations.push(`src/${path}:${imp.line}: a dynamic import of a computed name cannot be checked against the layers`);
        continue;
      }
      const target = targetOf(file, imp.specifier);
      if (target.kind === "unit" && target.name === unit) continue;
      if (row.allowed.has(target.name)) continue;
      const exception = exceptions.find((e) => e.file === path && e.imports.includes(target.name));
      if (exception !== undefined) {
        used.add(`${exception.file} ${target.name}`);
        continue;
      }
      violations.push(`src/${path}:${imp.line}: ${unit}/ may not import ${target.kind === "unit" ? `${target.name}/` : target.name} ("${imp.specifier}")`);
    }
  }

  it("breaks no row of the table", () => {
    expect(violations).toEqual([]);
  });

  it("needs every listed exception still (fixed ones leave the table)", () => {
    const listed = exceptions.flatMap((e) => e.imports.map((i) => `${e.file} ${i}`));
    expect(listed.filter((e) => !used.has(e))).toEqual([]);
  });
});

describe("the checker itself", () => {
  it("sees static, type-only, re-exported and dynamic imports", () => {
    const imports = importsOf(join(SRC, "debuginfo/xz.ts")).map((i) => i.specifier);
    expect(imports).toContain("xz-decompress");
    const elfIndex = importsOf(join(SRC, "elf/index.ts")).map((i) => i.specifier);
    expect(elfIndex).toContain("../io/byte-source.js");
    const strings = importsOf(join(SRC, "elf/string-table.ts")).map((i) => i.specifier);
    expect(strings).toContain("../io/byte-source.js");
  });

  it("maps specifiers to units, node:* and packages", () => {
    const file = join(SRC, "elf/header.ts");
    expect(targetOf(file, "../io/byte-source.js")).toEqual({ kind: "unit", name: "io" });
    expect(targetOf(file, "../errors.js")).toEqual({ kind: "unit", name: "errors" });
    expect(targetOf(file, "node:fs")).toEqual({ kind: "node", name: "node:*" });
    expect(targetOf(file, "fs")).toEqual({ kind: "node", name: "node:*" });
    expect(targetOf(file, "@biomejs/biome/x")).toEqual({ kind: "package", name: "@biomejs/biome" });
  });
});
