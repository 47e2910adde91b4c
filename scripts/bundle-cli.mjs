#!/usr/bin/env node
/**
 * Bundles the built CLI (dist/src/cli/main.js, from tsc) into dist/cli/:
 * the entry probec.mjs (package.json "bin") and one chunk per command, with
 * yargs and every library module inlined. Run by `npm run build`.
 *
 * Why: Node resolves, reads and compiles each ES module separately; the CLI
 * was ~150 of probec's modules plus ~70 of yargs, and `probec --version`
 * took 170 ms more than `node -e 0` (issue 13). One file per command keeps
 * each command's start-up to what it uses (esbuild's code splitting follows
 * run.ts's `await import("./commands/NAME.js")`).
 * https://esbuild.github.io/api/#splitting
 */
import { build } from "esbuild";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");
rmSync(outdir, { recursive: true, force: true });

/**
 * The commands import from src/index.ts, which re-exports the whole library. esbuild's code
 * splitting puts a file in a command's chunks when the command's imports reach it, re-exports
 * included (it prunes unused re-exports only without splitting), so every command would load
 * the whole library. This plugin rewrites `import { a, b } from "<barrel>"`, where the barrel is
 * a file made only of `export { … } from "…"` lines (tsc's output of src/index.ts and the like),
 * into imports from the modules that define `a` and `b`: each command then reaches only what
 * it uses. The rewrite happens on the bundle's input only; dist/src is left as tsc wrote it.
 */
const IMPORT = /^import\s*\{([^}]*)\}\s*from\s*"(\.\.?\/[^"]+)";/gm;
const REEXPORT = /^export\s*\{([^}]*)\}\s*from\s*"(\.\.?\/[^"]+)";/gm;

/** name → [module file, its name there] for a barrel, or undefined when the file is not one. */
const barrels = new Map();
function barrelExports(file) {
  if (barrels.has(file)) return barrels.get(file);
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    barrels.set(file, undefined);
    return undefined;
  }
  // A barrel: nothing but comments and `export { … } from "…";` statements.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const rest = code.replace(REEXPORT, "").trim();
  if (rest !== "" || !/^export\s*\{/m.test(code)) {
    barrels.set(file, undefined);
    return undefined;
  }
  const map = new Map();
  for (const [, names, from] of code.matchAll(REEXPORT)) {
    const target = join(dirname(file), from);
    for (const spec of names.split(",").map((n) => n.trim()).filter((n) => n !== "")) {
      const [local, exported = local] = spec.split(/\s+as\s+/);
      // Follow a chain of barrels down to the defining module.
      const inner = barrelExports(target)?.get(local);
      map.set(exported, inner ?? [target, local]);
    }
  }
  barrels.set(file, map);
  return map;
}

/** The `import` statements that replace one import from a barrel, or undefined to keep it. */
function flattenImport(importer, names, from) {
  const map = barrelExports(join(dirname(importer), from));
  if (map === undefined) return undefined;
  const byFile = new Map();
  for (const spec of names.split(",").map((n) => n.trim()).filter((n) => n !== "")) {
    const [imported, local = imported] = spec.split(/\s+as\s+/);
    const found = map.get(imported);
    if (found === undefined) throw new Error(`${importer}: ${imported} is not exported by ${from}`);
    const [file, name] = found;
    let rel = relative(dirname(importer), file);
    if (!rel.startsWith(".")) rel = `./${rel}`;
    if (!byFile.has(rel)) byFile.set(rel, []);
    byFile.get(rel).push(name === local ? name : `${name} as ${local}`);
  }
  return [...byFile].map(([rel, specs]) => `import { ${specs.join(", ")} } from "${rel}";`).join("\n");
}

const flattenBarrels = {
  name: "probec-flatten-barrels",
  setup(b) {
    const src = join(root, "dist", "src") + "/";
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(src)) return undefined;
      const text = readFileSync(args.path, "utf8");
      const contents = text.replace(IMPORT, (whole, names, from) => flattenImport(args.path, names, from) ?? whole);
      return { contents, loader: "js" };
    });
  },
};

await build({
  plugins: [flattenBarrels],
  entryPoints: { probec: join(root, "dist", "src", "cli", "main.js") },
  outdir,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // tmp and yargs' CommonJS parts call require(): give the ES module bundle one.
  banner: { js: 'import { createRequire as __probecCreateRequire } from "node:module"; const require = __probecCreateRequire(import.meta.url);' },
  // Names stay as written: error messages and stacks (PROBEC_DEBUG) name probec's own functions.
  minify: false,
  keepNames: false,
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
});
