/**
 * The demangler (gecko-profiler-demangle's wasm, loaded lazily): C++
 * Itanium names, Rust legacy (hash dropped) and v0 names; names that are
 * not mangled come back unchanged, including the ones demangle_any would
 * strip an underscore from; a malformed or oversized name is kept as is.
 */
import { expect, test } from "vitest";
import { loadDemangler, MAX_MANGLED_LENGTH } from "../../src/symbolize/demangle.js";

test.each([
  ["_ZNK4demo5Shape4areaEiPPvS2_", "demo::Shape::area(int, void**, void**) const"],
  ["_ZN5outer5innerIiE3runERKSt6vectorIiSaIiEE", "outer::inner<int>::run(std::vector<int, std::allocator<int> > const&)"],
  ["_ZSt4cout", "std::cout"],
  ["_ZN3std2rt10lang_start17h0123456789abcdefE", "std::rt::lang_start"],
  ["_RNvCs1234_7mycrate4main", "mycrate::main"],
  ["_RNvNtCs9ltgdHTiPiY_4core3ptr13drop_in_place", "core::ptr::drop_in_place"],
])("%s → %s", async (mangled, readable) => {
  const demangle = await loadDemangler();
  expect(demangle(mangled)).toBe(readable);
});

test.each(["main", "_GLOBAL__sub_I_main", "_start", "__libc_start_main", `_Z${"N".repeat(200)}`, "_Z", `_ZN3foo3barEv${"x".repeat(MAX_MANGLED_LENGTH)}`])(
  "%s is kept as it is",
  async (name) => {
    const demangle = await loadDemangler();
    expect(demangle(name)).toBe(name);
  },
);

test("the module is instantiated once", async () => {
  expect(await loadDemangler()).toBe(await loadDemangler());
});
