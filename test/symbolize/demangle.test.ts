/**
 * The demangler: C++ Itanium names through probec's own demangler (c++filt's
 * text), Rust legacy (hash dropped) and v0 names through gecko-profiler-demangle's
 * wasm, which is compiled only when a name needs it; names that are not
 * mangled come back unchanged, including the ones demangle_any would strip
 * an underscore from; a malformed or oversized name is kept as is.
 */
import { expect, test } from "vitest";
import { isMangled, loadDemangler, MAX_MANGLED_LENGTH, wasmCompiled } from "../../src/symbolize/demangle.js";

// First in this file (its own module instance): C++ names alone never compile the wasm.
test("C++ names alone do not compile the wasm", async () => {
  const demangle = await loadDemangler();
  expect(demangle("_ZN4node5Realm10RunCleanupEv")).toBe("node::Realm::RunCleanup()");
  expect(demangle("_ZNSt6vectorIiSaIiEE9push_backERKi")).toBe("std::vector<int, std::allocator<int> >::push_back(int const&)");
  expect(wasmCompiled()).toBe(false);
});

test.each([
  ["_ZNK4demo5Shape4areaEiPPvS2_", "demo::Shape::area(int, void**, void**) const"],
  ["_ZN5outer5innerIiE3runERKSt6vectorIiSaIiEE", "outer::inner<int>::run(std::vector<int, std::allocator<int> > const&)"],
  ["_ZSt4cout", "std::cout"],
  // Where the wasm's cpp_demangle printed `CTypeInfoBuilder<bool, >` and dropped the return type, c++filt's text.
  ["_ZN2v816CTypeInfoBuilderIbJEE5BuildEv", "v8::CTypeInfoBuilder<bool>::Build()"],
  ["_Z30node_api_context_register_funcILi8EEvP10napi_env__P12napi_value__", "void node_api_context_register_func<8>(napi_env__*, napi_value__*)"],
  [
    "_Z25ulocimp_forLanguageTag_78PKciRN6icu_788ByteSinkEPiR10UErrorCode.part.0.cold",
    "ulocimp_forLanguageTag_78(char const*, int, icu_78::ByteSink&, int*, UErrorCode&) [clone .part.0] [clone .cold]",
  ],
])("%s → %s", async (mangled, readable) => {
  const demangle = await loadDemangler();
  expect(demangle(mangled)).toBe(readable);
});

test.each([
  ["_ZN3std2rt10lang_start17h0123456789abcdefE", "std::rt::lang_start"],
  ["_RNvCs1234_7mycrate4main", "mycrate::main"],
  ["_RNvNtCs9ltgdHTiPiY_4core3ptr13drop_in_place", "core::ptr::drop_in_place"],
])("Rust %s → %s (rustc-demangle in the wasm)", async (mangled, readable) => {
  const demangle = await loadDemangler();
  expect(demangle(mangled)).toBe(readable);
  expect(wasmCompiled()).toBe(true);
});

test.each(["main", "_GLOBAL__sub_I_main", "_start", "__libc_start_main", `_Z${"N".repeat(200)}`, "_Z", `_ZN3foo3barEv${"x".repeat(MAX_MANGLED_LENGTH)}`])(
  "%s is kept as it is",
  async (name) => {
    const demangle = await loadDemangler();
    expect(demangle(name)).toBe(name);
  },
);

test("a data name with a clone suffix is kept as it is, as c++filt keeps it (the wasm would print `Argv0 [clone .0]`)", async () => {
  const demangle = await loadDemangler();
  expect(demangle("_ZL5Argv0.0")).toBe("_ZL5Argv0.0");
  expect(demangle("_ZN1A1xE.cold")).toBe("_ZN1A1xE.cold");
  // A function's clone suffix is printed.
  expect(demangle("_Z1fv.cold")).toBe("f() [clone .cold]");
});

test("a C++ name the own demangler declines still goes to the wasm", async () => {
  const demangle = await loadDemangler();
  // c++filt prints `sizeof...` forms this demangler does not answer; the wasm's text is kept.
  const name =
    "_ZN2v88internal8compiler14GraphAssembler10BranchImplIJEEEvNS1_15BranchSemanticsEPNS1_4NodeEPNS1_19GraphAssemblerLabelIXsZT_EEES9_NS0_10BranchHintEDpT_";
  expect(isMangled(name)).toBe(true);
  const out = demangle(name);
  expect(out).not.toBe(name);
  expect(out).toContain("v8::internal::compiler::GraphAssembler::BranchImpl");
});

test("the module is made once", async () => {
  expect(await loadDemangler()).toBe(await loadDemangler());
});
