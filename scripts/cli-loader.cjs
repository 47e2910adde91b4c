#!/usr/bin/env node
// probec's bin (copied to dist/cli/probec.cjs by scripts/bundle-cli.mjs).
//
// Runs the CLI bundle (probec.bundle.cjs, one CommonJS script) with V8's
// code cache (probec.bundle.cache, written at build time after running a few
// commands), so that a start compiles neither the bundle nor the functions a
// command calls first: Node 20 has no module compile cache
// (module.enableCompileCache is Node 22), but vm.Script takes cachedData
// (https://nodejs.org/docs/latest-v20.x/api/vm.html#new-vmscriptcode-options).
//
// The cache is used only when its first line names the same build as the
// bundle's first line; V8 itself rejects a cache made by another V8 version
// or with other flags, and then the bundle is simply compiled.
"use strict";
// `probec --version` alone, as the CLI prints it (src/cli/run.ts), without loading the bundle;
// scripts/bundle-cli.mjs writes src/version.ts's VERSION here.
const VERSION = "@PROBEC_VERSION@";
if (process.argv.length === 3 && process.argv[2] === "--version" && process.env.PROBEC_WRITE_CODE_CACHE === undefined) {
  process.stdout.write(`${VERSION}\n`);
  return;
}
const { readFileSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const vm = require("node:vm");

const bundle = join(__dirname, "probec.bundle.cjs");
const cacheFile = join(__dirname, "probec.bundle.cache");
// ASCII (scripts/bundle-cli.mjs checks): latin1 makes a one-byte string without decoding UTF-8.
const source = readFileSync(bundle, "latin1");
const build = source.slice(0, source.indexOf("\n"));

let cachedData;
try {
  const cache = readFileSync(cacheFile);
  const newline = cache.indexOf(10);
  if (newline > 0 && cache.toString("latin1", 0, newline) === build) cachedData = cache.subarray(newline + 1);
} catch {
  // No cache: compile.
}

const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  cachedData,
  importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, bundle, __dirname);

const writeCache = process.env.PROBEC_WRITE_CODE_CACHE;
if (writeCache === undefined) {
  if (process.env.PROBEC_CODE_CACHE_REPORT === "1") {
    process.stderr.write(`probec: code cache ${cachedData === undefined ? "absent" : script.cachedDataRejected ? "rejected" : "accepted"}\n`);
  }
  void mod.exports.runProcess(process.argv.slice(2));
} else {
  // Build time: run each command line given (JSON), output discarded, then save what V8 compiled.
  const sink = { write: () => true };
  (async () => {
    for (const argv of JSON.parse(writeCache)) await mod.exports.run(argv, { stdout: sink, stderr: sink }, {});
    writeFileSync(cacheFile, Buffer.concat([Buffer.from(`${build}\n`, "latin1"), script.createCachedData()]));
  })();
}
