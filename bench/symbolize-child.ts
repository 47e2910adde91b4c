/**
 * The fresh Node process of task (o), symbolizing stacks:
 *
 *     node --expose-gc dist/bench/symbolize-child.js '{"pid":N,"stacks":"/tmp/…/stacks.json"}'
 *
 * Reads the stacks (not timed), then times a cold pass (a new symbolizer:
 * snapshot of the process, indexing of its objects, the demangler's wasm,
 * every stack) and a warm pass over the same stacks with the same
 * symbolizer, each printed as one JSON line like bench/child.ts's. The
 * synthetic stacks' frames are spots inside functions, not return
 * addresses, so they are looked up as they are (`returnAddresses: false`,
 * the default here, as the peers do); captured stacks pass
 * `"returnAddresses": true`.
 * With `"demangle": false` the names stay mangled: the same passes
 * without the demangler, to show its share of the cold pass.
 */
import { readFileSync } from "node:fs";
import { createSymbolizer, type Symbolizer } from "../src/symbolize/index.js";
import { sinceMark, startMark } from "./measure.js";

interface Args {
  readonly pid: number;
  /** A JSON file: an array of stacks, each an array of hex addresses. */
  readonly stacks: string;
  /** Use only the first `limit` stacks. */
  readonly limit?: number;
  /** Demangle C++ names (default true); false shows what the rest of the cold path costs. */
  readonly demangle?: boolean;
  /** Frames after the first are return addresses (captured stacks); default false (synthetic spots). */
  readonly returnAddresses?: boolean;
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const stacks = (JSON.parse(readFileSync(args.stacks, "utf8")) as string[][])
  .slice(0, args.limit ?? Number.POSITIVE_INFINITY)
  .map((s) => s.map((a) => BigInt(a)));

async function pass(symbolizer: Symbolizer): Promise<{ named: number; frames: number; demangled: number }> {
  let named = 0;
  let frames = 0;
  let demangled = 0;
  for (const stack of stacks) {
    for (const frame of await symbolizer.symbolize(args.pid, stack, { returnAddresses: args.returnAddresses ?? false })) {
      frames++;
      if (frame.name !== undefined) named++;
      if (frame.name !== frame.symbol) demangled++;
    }
  }
  return { named, frames, demangled };
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

let mark = startMark();
const symbolizer = createSymbolizer({ demangle: args.demangle ?? true });
const cold = await pass(symbolizer);
emit({ label: "cold", ...sinceMark(mark), answer: { ...cold, functions: symbolizer.stats().functions } });
mark = startMark();
const warm = await pass(symbolizer);
emit({ label: "warm", ...sinceMark(mark), answer: warm });
symbolizer.close();
