/**
 * Types for the JavaScript glue of `gecko-profiler-demangle`, which the
 * package's own `index.d.ts` does not describe (it types only `index.js`,
 * the bundler entry that demangle.ts cannot use under plain Node).
 */
declare module "gecko-profiler-demangle/index_bg.js" {
  export function __wbg_set_wasm(exports: Record<string, unknown>): void;
  export function demangle_any(name: string): string;
  export function __wbindgen_init_externref_table(): void;
}
