/**
 * The fresh Node process of task (u), demangling a list of names once:
 *
 *     node --expose-gc dist/bench/demangle-child.js '{"names":"/tmp/…/names.txt","demangler":"own"}'
 *
 * Reads the names (not timed), then times loading the demangler and
 * demangling every name, JIT cold, and prints one JSON line like
 * bench/child.ts's. `own`: probec's Itanium demangler alone
 * (demangleItanium); `probec`: what the symbolizer uses (the own demangler,
 * the wasm for the names it declines); `wasm`: gecko-profiler-demangle
 * alone, as probec demangled before it had its own.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

interface Args {
  /** One name per line. */
  readonly names: string;
  readonly demangler: "own" | "probec" | "wasm";
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const names = readFileSync(args.names, "utf8")
  .split("\n")
  .filter((n) => n !== "");

async function load(): Promise<(name: string) => string | undefined> {
  switch (args.demangler) {
    case "own":
      return (await import("../src/symbolize/itanium-demangle.js")).demangleItanium;
    case "probec":
      return (await import("../src/symbolize/demangle.js")).loadUncachedDemangler();
    case "wasm": {
      const require = createRequire(import.meta.url);
      const glue = (await import("gecko-profiler-demangle/index_bg.js")) as unknown as {
        __wbg_set_wasm(exports: Record<string, unknown>): void;
        demangle_any(name: string): string;
      };
      const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
      const module = await api.compile(readFileSync(require.resolve("gecko-profiler-demangle/index_bg.wasm")));
      const instance = await api.instantiate(module, { "./index_bg.js": glue });
      glue.__wbg_set_wasm(instance.exports);
      (instance.exports.__wbindgen_start as () => void)();
      return (name) => glue.demangle_any(name);
    }
  }
}

interface WasmApi {
  compile(bytes: Uint8Array): Promise<unknown>;
  instantiate(module: unknown, imports: Record<string, unknown>): Promise<{ exports: Record<string, unknown> }>;
}

const began = performance.now();
const demangle = await load();
const loaded = performance.now();
let answered = 0;
for (const name of names) {
  const out = demangle(name);
  if (out !== undefined && out !== name) answered++;
}
const ms = performance.now() - began;
process.stdout.write(`${JSON.stringify({ label: args.demangler, ms, loadMs: loaded - began, answer: answered })}\n`);
