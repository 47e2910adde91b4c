/**
 * The public USDT API: `findUsdt` over any {@link ElfInput}.
 */
import { loadDebugFiles, type DebugSearchOptions } from "../debuginfo/index.js";
import { readUsdtSites, type UsdtSite } from "../usdt/notes.js";
import { withElf, type ElfInput, type OpenOptions } from "./input.js";

export type { UsdtSite } from "../usdt/notes.js";

/** Which probes to return, and where to find symbols for `sym(%rip)` arguments. */
export interface FindUsdtOptions extends OpenOptions, DebugSearchOptions {
  /** Provider glob, e.g. `postgresql` or `hotspot*`. Default: all. */
  readonly provider?: string;
  /** Probe-name glob, e.g. `query__*`. Default: all. */
  readonly name?: string;
}

/**
 * Every USDT probe site in `file` whose provider and name match, in note
 * order, each with its file offset, its own semaphore's offset
 * (`ref_ctr_offset`) and its decoded arguments. Returns `[]` when nothing
 * matches.
 *
 * @example
 * const sites = await findUsdt("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", { provider: "hotspot", name: "gc__*" });
 */
export async function findUsdt(file: ElfInput, options: FindUsdtOptions = {}): Promise<UsdtSite[]> {
  return withElf(file, options, async (elf, path) => {
    const filter = { ...(options.provider === undefined ? {} : { provider: options.provider }), ...(options.name === undefined ? {} : { name: options.name }) };
    const sites = readUsdtSites(elf, filter);
    // Only a stripped file with symbol-relative arguments needs its debug file.
    const needsSymbols = sites.some((s) => s.args.some((a) => a.kind === "unsupported" && a.symbol !== undefined));
    if (!needsSymbols) return sites;
    const debug = await loadDebugFiles(elf, path, options);
    try {
      return debug.length === 0 ? sites : readUsdtSites(elf, { ...filter, symbolSources: debug.map((d) => d.elf) });
    } finally {
      for (const d of debug) d.elf.close();
    }
  });
}
