/**
 * The JSON shapes of probec's results, shared by `--json` output and any
 * program that stores them. One rule for numbers: addresses are `"0x…"`
 * strings (they are 64-bit), file offsets, sizes and small displacements
 * are JSON numbers, and constants are decimal strings (exact to 64 bits).
 */
import { hex } from "../elf/fields.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import type { RegisterRef, UsdtArg } from "../usdt/args/types.js";
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

/** One decoded argument: `spec` first, then the decoded location. */
export type UsdtArgJson = { spec: string; index: number; size: number; signed: boolean; kind: UsdtArg["kind"] } & Record<string, unknown>;

/** {@link FoundSymbol} → {@link SymbolJson}. */
export function symbolToJson(s: FoundSymbol): SymbolJson {
  return { file: s.file, name: s.name, version: s.version, defaultVersion: s.isDefaultVersion, address: hex(s.address), fileOffset: s.fileOffset, size: s.size, type: s.type, binding: s.binding };
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

/** One argument as JSON. */
export function usdtArgToJson(arg: UsdtArg): UsdtArgJson {
  const head = { spec: arg.spec, index: arg.index, size: arg.size, signed: arg.signed, ...(arg.float === true ? { float: true } : {}), kind: arg.kind };
  switch (arg.kind) {
    case "register":
      return { ...head, register: registerJson(arg.register) };
    case "memory":
      return {
        ...head,
        base: registerJson(arg.base),
        ...(arg.indexRegister === undefined ? {} : { indexRegister: registerJson(arg.indexRegister), scale: arg.scale }),
        displacement: small(arg.displacement),
      };
    case "constant":
      return { ...head, value: arg.value.toString() };
    case "symbol":
      return {
        ...head,
        symbol: arg.symbol,
        addend: small(arg.addend),
        base: arg.base === undefined ? null : registerJson(arg.base),
        ...(arg.indexRegister === undefined ? {} : { indexRegister: registerJson(arg.indexRegister), scale: arg.scale }),
        symbolAddress: arg.address === undefined ? null : hex(arg.address),
      };
    case "unsupported":
      return { ...head, reason: arg.reason, ...(arg.symbol === undefined ? {} : { symbol: arg.symbol }) };
  }
}

function registerJson(r: RegisterRef): Record<string, unknown> {
  return {
    name: r.name,
    written: r.written,
    ptRegsOffset: r.ptRegsOffset,
    // i386/arm code on a 64-bit kernel: the register's slot in the 64-bit pt_regs, which is what BPF reads there.
    ...(r.compatPtRegsOffset === undefined ? {} : { compatPtRegsOffset: r.compatPtRegsOffset }),
    width: r.width,
    shift: r.shift,
  };
}

/** A displacement or addend: a number when exactly representable, else a decimal string. */
function small(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}
