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
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");
rmSync(outdir, { recursive: true, force: true });

await build({
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
