/**
 * Loading iced-x86 (a maintained x86 decoder, Rust compiled to WebAssembly,
 * MIT) only when an x86-64 function body must be decoded: its module
 * compiles a 2 MB wasm image synchronously at load, which `probec list` and
 * every non-Go probe never need.
 *
 * The package is CommonJS and loads its wasm with `fs`, so it can only be
 * required, not imported synchronously from ESM. Node 20.16+ gives the
 * `module` builtin through `process.getBuiltinModule` without an import of
 * `node:*` here (this folder stays free of them); a runtime without it calls
 * {@link loadX86Decoder} once (a dynamic import) before decoding.
 */
import { InternalError } from "../errors.js";

/** The parts of iced-x86 that `returns.ts` uses. */
export type Iced = typeof import("iced-x86");

let iced: Iced | undefined;

/** Loads iced-x86 ahead of time (asynchronously); needed only where `process.getBuiltinModule` is missing. */
export async function loadX86Decoder(): Promise<void> {
  if (iced !== undefined) return;
  // scripts/bundle-cli.mjs keeps iced-x86 external: the package, and the wasm file beside it, stay where npm put them.
  const module = (await import("iced-x86")) as Iced & { default?: Iced };
  iced = module.default ?? module;
}

/** iced-x86, loaded on first use. */
export function x86Decoder(): Iced {
  if (iced !== undefined) return iced;
  const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const builtin = host?.getBuiltinModule?.("module") as { createRequire(url: string): (id: string) => unknown } | undefined;
  if (builtin === undefined) throw new InternalError("the x86-64 decoder is not loaded: call loadX86Decoder() first (this is a bug)");
  iced = builtin.createRequire(import.meta.url)("iced-x86") as Iced;
  return iced;
}
