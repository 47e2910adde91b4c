/**
 * Building blocks shared by the per-architecture operand decoders: GNU as
 * integer syntax, constant reduction, register tables and the location
 * constructors. Pure: no `node:*`, no I/O, never throws on note content.
 */

import { ProbecError } from "../../errors.js";
import type { ConstantLocation, MemoryLocation, RegisterLocation, RegisterRef, UnsupportedLocation } from "./types.js";

/** A register as a table knows it; {@link registerRef} adds how the note wrote it. */
export interface RegisterSpec {
  /** Canonical full-width name, as in {@link RegisterRef.name}. */
  readonly name: string;
  readonly ptRegsOffset: number;
  readonly width: number;
  readonly shift: number;
  readonly compatPtRegsOffset?: number;
}

/** A register table: lower-case name as written (without sigil) to its spec. */
export type RegisterTable = ReadonlyMap<string, RegisterSpec>;

const INT64_MIN = -(1n << 63n);
const UINT64_LIMIT = 1n << 64n;

/**
 * Parses an integer the way GNU as reads one (as manual, "Integers"):
 * `0x1f` hex, `0b101` binary, `017` octal (a leading 0), `42` decimal, each
 * with an optional leading `-`. GCC and clang print decimal; the other bases
 * are accepted because the note is assembler text and `as` would accept them.
 * Returns undefined for anything else (no `+`, no spaces, no suffixes).
 *
 * Examples: `96`, `-8`, `0x10`, `-0x28`, `18446744073709551614`.
 */
export function parseInteger(text: string): bigint | undefined {
  const m = /^(-?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (m === null) return undefined;
  const digits = m[2] ?? "";
  let magnitude: bigint;
  if (/^0[0-7]+$/.test(digits)) magnitude = BigInt(`0o${digits.slice(1)}`);
  else magnitude = BigInt(digits); // BigInt() reads 0x…, 0b… and decimal itself
  return m[1] === "-" ? -magnitude : magnitude;
}

/**
 * Reduces a constant to the argument's size and signedness, the way the
 * value would look in a `size`-byte variable: `8@$18446744073709551614` is
 * 0xfffffffffffffffe, `-8@$18446744073709551614` is -2, `4@$-1` is
 * 0xffffffff (PITFALLS 12).
 */
export function reduceConstant(value: bigint, size: number, signed: boolean): bigint {
  const bits = size * 8;
  return signed ? BigInt.asIntN(bits, value) : BigInt.asUintN(bits, value);
}

/** True when `value` is representable in 64 bits, as signed or as unsigned. */
export function fitsIn64Bits(value: bigint): boolean {
  return value >= INT64_MIN && value < UINT64_LIMIT;
}

/** An `unsupported` location; `reason` should name the operand. */
export function unsupported(reason: string): UnsupportedLocation {
  return { kind: "unsupported", reason };
}

/** Quotes note text for a reason string, escaping control characters. */
export function quote(text: string): string {
  return JSON.stringify(text);
}

/**
 * A constant operand from its integer text (sigil already removed), reduced
 * to size and signedness; unsupported when the text is not an integer or
 * does not fit in 64 bits (`as` itself would reject it).
 */
export function constantFrom(digits: string, operand: string, size: number, signed: boolean): ConstantLocation | UnsupportedLocation {
  const value = parseInteger(digits);
  if (value === undefined) return unsupported(`constant ${quote(operand)} is not an integer`);
  if (!fitsIn64Bits(value)) return unsupported(`constant ${quote(operand)} does not fit in 64 bits`);
  return { kind: "constant", value: reduceConstant(value, size, signed) };
}

/**
 * A displacement from its integer text: any 64-bit value, wrapped to signed
 * 64 bits as the address arithmetic would. Undefined when not an integer.
 */
export function parseDisplacement(text: string): bigint | undefined {
  if (text === "") return 0n;
  const value = parseInteger(text);
  if (value === undefined || !fitsIn64Bits(value)) return undefined;
  return BigInt.asIntN(64, value);
}

/** Turns a table entry plus the spelling from the note into a {@link RegisterRef}. */
export function registerRef(spec: RegisterSpec, written: string): RegisterRef {
  const ref: RegisterRef = {
    name: spec.name,
    written,
    ptRegsOffset: spec.ptRegsOffset,
    width: spec.width,
    shift: spec.shift,
  };
  return spec.compatPtRegsOffset === undefined ? ref : { ...ref, compatPtRegsOffset: spec.compatPtRegsOffset };
}

/** Looks a register up by its lower-cased spelling; `written` is kept as is. */
export function lookupRegister(table: RegisterTable, key: string, written: string): RegisterRef | undefined {
  const spec = table.get(key.toLowerCase());
  return spec === undefined ? undefined : registerRef(spec, written);
}

/** A register location. */
export function inRegister(register: RegisterRef): RegisterLocation {
  return { kind: "register", register };
}

/** A memory location; `indexRegister` and `scale` come together or not at all. */
export function inMemory(base: RegisterRef, displacement: bigint, index?: RegisterRef, scale?: number): MemoryLocation {
  if (index === undefined) return { kind: "memory", base, displacement };
  return { kind: "memory", base, indexRegister: index, scale: scale ?? 1, displacement };
}

/**
 * The reason for a value wider than the register that holds it on a 32-bit
 * target: GCC puts a 64-bit value in a register pair and the note names only
 * one of the two (sys/sdt.h, "NB: gdb PR24541"), so reading it would return
 * half the value.
 */
export function registerPairReason(operand: string, size: number): string {
  return `${size}-byte value in 32-bit register ${quote(operand)}: the compiler keeps it in a register pair and the note names only one half`;
}

/** Builds a table from `[spelling, spec]` rows, refusing duplicate spellings (a table bug). */
export function buildTable(rows: Iterable<readonly [string, RegisterSpec]>): RegisterTable {
  const table = new Map<string, RegisterSpec>();
  for (const [spelling, spec] of rows) {
    // A bug in a static table, found when the module loads, never note content.
    if (table.has(spelling)) throw new ProbecError("E_INTERNAL", `register table lists ${spelling} twice`);
    table.set(spelling, Object.freeze(spec));
  }
  return table;
}

/**
 * The comma-separated parts inside an ARM-style `[BASE, …]` address (at
 * most three), or the reason it is not one: a pre/post-index form
 * (`[x1, 8]!`, `[x1], 8`) or junk after the bracket.
 */
export function bracketParts(operand: string): string[] | string {
  if (!operand.endsWith("]")) return `${quote(operand)} is not a plain [base, offset] address (pre/post-index or junk)`;
  const parts = operand
    .slice(1, -1)
    .split(",")
    .map((p) => p.trim());
  if (parts.length > 3) return `memory operand ${quote(operand)} has too many parts`;
  return parts;
}
