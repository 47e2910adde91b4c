#!/usr/bin/env node
/**
 * Bundles the built CLI (dist/src/cli/process.js, from tsc) into dist/cli/,
 * the package's "bin". Run by `npm run build`.
 *
 * Why (issue 13): Node resolves, reads and compiles each ES module
 * separately; the CLI was ~150 of probec's modules plus ~70 of yargs, and
 * `probec --version` took 170 ms more than `node -e 0`. So:
 * - probec.bundle.cjs: every module in one CommonJS script (esbuild); the
 *   commands, yargs and tmp, reached through `await import(…)` in run.ts,
 *   are evaluated only when a command needs them;
 * - probec.bundle.cache: V8's code cache for it, made after running a few
 *   command lines, so that a start neither parses the bundle nor compiles
 *   the functions those commands call (Node 20 runs only classic scripts
 *   from a code cache: hence CommonJS);
 * - probec.cjs: the bin, scripts/cli-loader.cjs, which runs the bundle with
 *   the cache when the cache was made from this very build.
 * https://esbuild.github.io/api/#format-commonjs
 */
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");
rmSync(outdir, { recursive: true, force: true });

/**
 * The commands import from src/index.ts, which re-exports the whole library; esbuild would
 * then evaluate every re-exported module as soon as a command loads. This plugin rewrites `import { a, b } from "<barrel>"`, where the barrel is
 * a file made only of `export { … } from "…"` lines (tsc's output of src/index.ts and the like),
 * into imports from the modules that define `a` and `b`: each command then reaches only what
 * it uses, and the rest of the library stays unevaluated. The rewrite happens on the bundle's
 * input only; dist/src is left as tsc wrote it.
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
    for (const spec of names
      .split(",")
      .map((n) => n.trim())
      .filter((n) => n !== "")) {
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
  for (const spec of names
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "")) {
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

/** Names this build; the loader uses the code cache only when the cache's first line is the bundle's. */
const buildLine = `// probec CLI bundle ${randomUUID()}`;

await build({
  plugins: [flattenBarrels],
  entryPoints: [join(root, "dist", "src", "cli", "process.js")],
  outfile: join(outdir, "probec.bundle.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // iced-x86 loads a wasm file that sits beside it: it stays where npm put it.
  external: ["iced-x86"],
  // The bundle runs as a CommonJS script: `import.meta.url` (the helper's package-root search, the Go
  // decoder's require of iced-x86) is the bundle's own URL.
  define: { "import.meta.url": "__probecImportMetaUrl" },
  banner: { js: `${buildLine}\nvar __probecImportMetaUrl = require("node:url").pathToFileURL(__filename).href;` },
  // Names stay as written: error messages and stacks (PROBEC_DEBUG) name probec's own functions.
  minify: false,
  // Without comments and indentation the bundle is ~25% smaller, and pure ASCII (the comments held
  // the only non-ASCII characters; esbuild escapes them in strings), so every start reads it as a
  // one-byte string instead of decoding UTF-8 into a two-byte one (issue 13).
  minifyWhitespace: true,
  charset: "ascii",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
});

// The loader reads the bundle as latin1, which is exact only for ASCII.
const bundled = readFileSync(join(outdir, "probec.bundle.cjs"));
const nonAscii = bundled.findIndex((byte) => byte > 0x7f);
if (nonAscii >= 0) throw new Error(`bundle-cli: probec.bundle.cjs has a non-ASCII byte at ${nonAscii}; the loader reads it as latin1`);

const bin = join(outdir, "probec.cjs");
const { VERSION } = await import(pathToFileURL(join(root, "dist", "src", "version.js")).href);
writeFileSync(bin, readFileSync(join(root, "scripts", "cli-loader.cjs"), "utf8").replace("@PROBEC_VERSION@", VERSION));
chmodSync(bin, 0o755);

// The code cache: the bundle run once over command lines that load and call what most starts need
// (the fast argv path, list of USDT probes and of functions, an error, trace up to compiling its probe,
// yargs' help), then saved.
const sample = join(root, "fixtures", "elf", "bin", "usdt_sema");
const elfFile = existsSync(sample) ? sample : process.execPath;
const lines = [
  ["--version"],
  ["list", elfFile],
  ["list", elfFile, "--functions", "--json"],
  ["list", join(outdir, "no-such-file")],
  // Parses, checks and resolves a probe, then stops at the missing function: nothing is attached.
  ["trace", `uprobe host:${elfFile}:probec_no_such_function { x = arg0 }`, "--count", "1"],
  ["--help"],
];
const made = spawnSync(process.execPath, [bin], { env: { ...process.env, PROBEC_WRITE_CODE_CACHE: JSON.stringify(lines) }, encoding: "utf8" });
if (made.status !== 0 || !existsSync(join(outdir, "probec.bundle.cache"))) {
  throw new Error(`bundle-cli: making the code cache failed (exit ${made.status}): ${made.stderr}`);
}
