/**
 * The JSON shapes of probec's results, shared by `--json` output and any
 * program that stores them. One rule for numbers: addresses are `"0x…"`
 * strings (they are 64-bit), file offsets, sizes and small displacements
 * are JSON numbers, and constants are decimal strings (exact to 64 bits).
 */
import { hex } from "../elf/fields.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { usdtArgToJson, type UsdtArgJson } from "../usdt/json.js";
import type { UsdtSite } from "../usdt/notes.js";

/** A function as JSON: `{ file, name, version, defaultVersion, address, fileOffset, size, type, binding }`. */
export interface SymbolJson {
  file: string;
  name: string;
  version: string | null;
  /** False for a hidden compatibility version (`name@VER`), true for `name@@VER` and unversioned names. */
  defaultVersion: boolean;
  address: string;
  fileOffset: number;
  size: number;
  type: string;
  binding: string;
}

/** A USDT site as JSON: `{ file, provider, name, address, fileOffset, semaphore, semaphoreOffset, args }`. */
export interface UsdtSiteJson {
  file: string;
  provider: string;
  name: string;
  address: string;
  fileOffset: number;
  semaphore: string | null;
  semaphoreOffset: number | null;
  args: UsdtArgJson[];
}

/** {@link FoundSymbol} → {@link SymbolJson}. */
export function symbolToJson(s: FoundSymbol): SymbolJson {
  return {
    file: s.file,
    name: s.name,
    version: s.version,
    defaultVersion: s.isDefaultVersion,
    address: hex(s.address),
    fileOffset: s.fileOffset,
    size: s.size,
    type: s.type,
    binding: s.binding,
  };
}

/** {@link UsdtSite} → {@link UsdtSiteJson}. */
export function usdtSiteToJson(site: UsdtSite): UsdtSiteJson {
  return {
    file: site.file,
    provider: site.provider,
    name: site.name,
    address: hex(site.address),
    fileOffset: site.fileOffset,
    semaphore: site.semaphore === undefined ? null : hex(site.semaphore),
    semaphoreOffset: site.semaphoreOffset ?? null,
    args: site.args.map(usdtArgToJson),
  };
}

export { usdtArgToJson, type UsdtArgJson };
