/**
 * C++ (Itanium `_Z…`) and Rust (legacy `_ZN…17h<hash>E` and v0 `_R…`)
 * names made readable.
 *
 * C++ names go first to probec's own demangler (itanium-demangle.ts), which
 * prints exactly what GNU c++filt prints. probec has its own because the
 * maintained alternative below is wrong for too many C++ names: of the
 * 50,310 distinct C++ names of /usr/bin/node that bench task (o)'s stacks
 * hit, its text differs from c++filt's for 4,457, among them empty template
 * parameter packs printed as `CTypeInfoBuilder<bool, >` (275), the
 * anonymous namespace printed as `_GLOBAL__N_1`, and template functions
 * without their return type (2,331). It is not for speed: in a fresh
 * process the own demangler takes about as long as the wasm for those names
 * (bench task (u): 272 and 283 ms on a quiet run; c++filt, process start
 * included, 166 ms). It is checked against c++filt on every C++ name of
 * node, libstdc++, ICU, libclang-cpp and LLVM, and on seeded mutations of
 * them (test/symbolize/itanium-demangle.test.ts: zero differences); a name
 * it does not fully understand comes back undefined and falls back here, a
 * name c++filt leaves mangled (`_ZL5Argv0.0`) comes back unchanged.
 *
 * Rust names, and C++ names the own demangler declines, go to
 * `gecko-profiler-demangle`: the Firefox Profiler's WebAssembly build of
 * the `cpp_demangle` and `rustc-demangle` crates (the demanglers Rust's own
 * tools use), Apache-2.0 OR MIT, no dependencies, 520 KiB of wasm, chosen
 * over the npm alternatives because they are either unmaintained pure-JS
 * partial ports of `c++filt` or handle one language only.
 *
 * The package is built for bundlers (`import * as wasm from "./index_bg.wasm"`),
 * which plain Node 20 cannot import, so the module is instantiated here
 * from its file: the JavaScript glue (`index_bg.js`) is imported by
 * {@link loadDemangler} (cheap), and the wasm itself is compiled, once, by
 * the first name that needs it: a run whose names are all C++ never
 * compiles it.
 *
 * `demangle_any` returns its input when no demangler accepts it, but also
 * strips one leading underscore first (Mach-O symbols carry an extra one),
 * so `_GLOBAL__sub_I_main` would come back as `GLOBAL__sub_I_main`: a
 * wrong name. Only `_Z`/`_R` names are passed to it, and an answer that
 * is merely the input without its underscore is treated as "not mangled".
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { demangleItanium, MAX_MANGLED_LENGTH } from "./itanium-demangle.js";

export { MAX_MANGLED_LENGTH };

/** Turns a symbol name into its readable form; returns the input when it is not a C++ or Rust mangled name. */
export type Demangler = (name: string) => string;

let loading: Promise<Demangler> | undefined;
let wasmCompiles = 0;
let cached: Promise<Demangler> | undefined;

/** The demangler, made once per process on first use; it remembers every name it was asked. */
export function loadDemangler(): Promise<Demangler> {
  cached ??= loadUncachedDemangler().then(withCache);
  return cached;
}

/**
 * The same demangler without its memory of names asked, for a caller that
 * keeps its own per function (the symbolizer): hashing 50k long mangled
 * names into a second map costs more than the lookups it saves.
 */
export function loadUncachedDemangler(): Promise<Demangler> {
  loading ??= instantiate();
  return loading;
}

function withCache(demangle: Demangler): Demangler {
  const cache = new Map<string, string>();
  return (name) => {
    let out = cache.get(name);
    if (out === undefined) {
      out = demangle(name);
      cache.set(name, out);
    }
    return out;
  };
}

/** Whether `name` looks like an Itanium C++ or Rust (legacy or v0) mangled name, and so is worth demangling. */
export function isMangled(name: string): boolean {
  return (name.startsWith("_Z") || name.startsWith("_R")) && name.length > 2 && name.length <= MAX_MANGLED_LENGTH;
}

async function instantiate(): Promise<Demangler> {
  const glue = (await import("gecko-profiler-demangle/index_bg.js")) as Glue;
  let wasm: ((name: string) => string) | undefined;
  return (name) => {
    if (!isMangled(name)) return name;
    // demangleItanium declines Rust legacy names itself (they go on to the wasm).
    if (name.charCodeAt(1) === 0x5a /* Z */) {
      const readable = demangleItanium(name);
      if (readable !== undefined) return readable;
    }
    wasm ??= compileWasm(glue);
    return wasm(name);
  };
}

/** The wasm demangler, compiled synchronously (Node allows it for any size) the first time a name needs it. */
function compileWasm(glue: Glue): (name: string) => string {
  const require = createRequire(import.meta.url);
  const wasmPath = require.resolve("gecko-profiler-demangle/index_bg.wasm");
  // tsconfig's lib has no DOM, where WebAssembly's types live: the few calls used are typed below.
  const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const instance = new api.Instance(new api.Module(readFileSync(wasmPath)), { "./index_bg.js": glue });
  wasmCompiles++;
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return (name) => {
    let out: string;
    try {
      out = glue.demangle_any(name);
    } catch {
      // A Rust panic in the wasm (a demangler bug on a crafted name) surfaces as a RuntimeError: keep the name as it is.
      return name;
    }
    // Only the leading underscore stripped (see the module comment) is "not mangled"; compared without slicing a copy.
    if (out.length === 0 || (out.length === name.length - 1 && name.endsWith(out))) return name;
    return out;
  };
}

interface Glue {
  __wbg_set_wasm(exports: Record<string, unknown>): void;
  demangle_any(name: string): string;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown, imports: Record<string, unknown>) => { exports: Record<string, unknown> };
}

/** Whether the wasm demangler has been compiled in this process (tests check that C++-only runs never compile it). */
export function wasmCompiled(): boolean {
  return wasmCompiles > 0;
}
