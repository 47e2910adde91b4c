/**
 * USDT arguments as JSON, shared by `probec list --json` and the AttachPlan:
 * `spec` first, then the decoded location. Registers keep their pt_regs
 * offsets; displacements and addends are numbers when exact, else decimal
 * strings; constants are decimal strings (exact to 64 bits); addresses are
 * `"0x…"`. Pure: no I/O.
 */
import { hex } from "../elf/fields.js";
import type { RegisterRef, UsdtArg } from "./args/types.js";

/** One decoded argument: `spec` first, then the decoded location. */
export type UsdtArgJson = { spec: string; index: number; size: number; signed: boolean; kind: UsdtArg["kind"] } & Record<string, unknown>;

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
