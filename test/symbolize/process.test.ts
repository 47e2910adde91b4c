/**
 * createSymbolizer on real processes (no BPF: the stacks are the addresses
 * the program reports about itself, see fixtures/stack.c): a stripped
 * executable named through its debuglink file, a C++ library the loader
 * mapped, a plugin dlopened from /tmp and deleted, in a container (own
 * mount namespace, overlay root, chroot: the debug file exists only there)
 * and on the host; unnamed addresses print module+0xoff or [unknown]; a
 * process that exited after its snapshot still symbolizes.
 *
 * Needs root, gcc/g++/binutils, unshare and overlayfs. Nothing skips: a
 * missing tool fails the build step with its error.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createSymbolizer, foldStacks, formatFrame, frameNames, renderFlameGraph, type Frame, type Symbolizer } from "../../src/symbolize/index.js";
import { parseSvg } from "./svg.js";
import {
  APP_DIR,
  buildStackProgram,
  makeContainerRoot,
  runInContainer,
  runOnHost,
  type BuiltProgram,
  type ContainerRoot,
  type RunningProgram,
} from "./stack-program.js";

let built: BuiltProgram;
let root: ContainerRoot;

beforeAll(() => {
  built = buildStackProgram();
  root = makeContainerRoot(built);
});

afterAll(() => {
  root?.remove();
  built?.remove();
});

const at = (p: RunningProgram, name: string): bigint => {
  const address = p.addresses.get(name);
  if (address === undefined) throw new Error(`the program did not print ${name}`);
  return address;
};

/** The stack c → b → a → main, as a kernel would capture it in c. */
const mainStack = (p: RunningProgram): bigint[] => ["inside_c", "ret_in_b", "ret_in_a", "ret_in_main"].map((n) => at(p, n));

const names = (frames: readonly Frame[]): (string | undefined)[] => frames.map((f) => f.name);

/** addr2line over the unstripped debug file: the reference for every frame of the executable. */
function addr2line(debugFile: string, frames: readonly Frame[]): string[] {
  const out = execFileSync("addr2line", ["-f", "-e", debugFile, ...frames.map((f) => `0x${(f.elfAddress as bigint).toString(16)}`)], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((_, i) => i % 2 === 0)
    .slice(0, frames.length);
}

function checkAll(p: RunningProgram, frames: Frame[][], prog: string, pluginLike: RegExp, debugFile: string): void {
  const [stack, shape, plugin, odd] = frames as [Frame[], Frame[], Frame[], Frame[]];
  expect(names(stack)).toEqual(["c", "b", "a", "main"]);
  expect(stack.map((f) => f.module)).toEqual([prog, prog, prog, prog]);
  // The offset inside c is what the program computed from &c.
  expect(stack[0]?.symbolOffset).toBe(at(p, "inside_c") - at(p, "fn_c"));
  expect(formatFrame(stack[0] as Frame)).toBe(`c+0x${(at(p, "inside_c") - at(p, "fn_c")).toString(16)}`);
  // Differential: addr2line on the debug file names the same functions at the same link-time addresses.
  expect(addr2line(debugFile, stack)).toEqual(["c", "b", "a", "main"]);

  expect(names(shape)).toEqual(["demo::Shape::area(int, void**, void**) const", "shape_entry", "c", "b", "a", "main"]);
  expect(shape[0]?.symbol).toBe("_ZNK4demo5Shape4areaEiPPvS2_");
  expect(shape[0]?.module).toBe(`${prog.slice(0, prog.lastIndexOf("/"))}/lib/libshape.so`);

  expect(names(plugin)).toEqual(["plugin_work", "c", "b", "a", "main"]);
  expect(plugin[0]?.module).toMatch(pluginLike);

  const [pastSize, pastZero, exactSized, nowhere] = odd as [Frame, Frame, Frame, Frame];
  expect(pastSize.name).toBeUndefined();
  expect(formatFrame(pastSize)).toBe(`${prog}+0x${(pastSize.offset as bigint).toString(16)}`);
  expect(pastZero.name).toBeUndefined();
  expect(formatFrame(pastZero)).toMatch(new RegExp(`^${prog.replaceAll(".", "\\.")}\\+0x[0-9a-f]+$`));
  expect(exactSized.name).toBe("sized_fn");
  expect(formatFrame(nowhere)).toBe("[unknown]");
}

async function symbolizeAll(s: Symbolizer, p: RunningProgram): Promise<Frame[][]> {
  const tail = mainStack(p).slice(1);
  const stacks = [
    mainStack(p),
    [at(p, "inside_area"), at(p, "ret_in_shape_entry"), at(p, "ret_in_c_from_shape"), ...tail],
    [at(p, "inside_plugin"), at(p, "ret_in_c_from_plugin"), ...tail],
  ];
  const frames = [];
  for (const stack of stacks) frames.push(await s.symbolize(p.pid, stack));
  // Leaf frames: an address two bytes into a one-byte function, one byte after a zero-size symbol, the function itself, and no mapping at all.
  const odd: Frame[] = [];
  for (const address of [at(p, "sized_fn") + 2n, at(p, "zero_sym") + 1n, at(p, "sized_fn"), 0x10n]) odd.push(...(await s.symbolize(p.pid, [address])));
  frames.push(odd);
  return frames;
}

describe("in a container (own mount namespace, overlay root, chroot)", () => {
  test("the app directory does not exist on the host: its debug file is reachable only inside the container", () => {
    expect(existsSync(APP_DIR)).toBe(false);
  });

  test("every frame is named from the container's files, and still after the process exited", async () => {
    const p = await runInContainer(root);
    const warnings: string[] = [];
    const s = createSymbolizer({ onWarning: (m) => warnings.push(m) });
    try {
      s.snapshot(p.pid);
      // The process and its mount namespace are gone before anything is indexed.
      await p.stop();
      expect(existsSync(`/proc/${p.pid}`)).toBe(false);
      const frames = await symbolizeAll(s, p);
      checkAll(p, frames, `${APP_DIR}/prog`, /^\/tmp\/probec-plugin-\w{6}$/, join(built.dir, ".debug/prog.debug"));
      expect(warnings).toEqual([]);
      const stats = s.stats();
      expect(stats.indexed).toBeGreaterThanOrEqual(3);
    } finally {
      s.close();
      await p.stop();
    }
  });

  test("a second process of the same files shares the indexed objects", async () => {
    const first = await runInContainer(root);
    const s = createSymbolizer();
    try {
      await s.symbolize(first.pid, mainStack(first));
      const objects = s.stats().objects;
      await first.stop();
      const second = await runInContainer(root);
      try {
        expect(names(await s.symbolize(second.pid, mainStack(second)))).toEqual(["c", "b", "a", "main"]);
        // Same build-ids (the executable, libshape, libc, the plugin's fresh /tmp copy): no object is opened twice.
        expect(s.stats().objects).toBe(objects);
      } finally {
        await second.stop();
      }
    } finally {
      s.close();
    }
  });
});

describe("on the host", () => {
  test("every frame is named: debuglink beside the binary, the loader's library, the deleted plugin through map_files", async () => {
    const p = await runOnHost(built);
    const s = createSymbolizer();
    try {
      const frames = await symbolizeAll(s, p);
      checkAll(p, frames, join(built.dir, "prog"), /^\/tmp\/probec-plugin-\w{6}$/, join(built.dir, ".debug/prog.debug"));
      // The plugin's file is gone from /tmp: only map_files reached it.
      expect(existsSync(frames[2]?.[0]?.module as string)).toBe(false);

      // The three stacks, seen 30, 20 and 10 times, folded and drawn.
      const folded = foldStacks(frames.slice(0, 3).map((f, i) => ({ frames: frameNames(f), count: [30, 20, 10][i] as number })));
      expect(folded).toBe(
        ["main;a;b;c 30", "main;a;b;c;plugin_work 10", "main;a;b;c;shape_entry;demo::Shape::area(int, void**, void**) const 20", ""].join("\n"),
      );
      const boxes = parseSvg(renderFlameGraph(folded));
      const widthOf = (name: string): number => boxes.find((b) => b.title.startsWith(`${name} (`))?.width ?? Number.NaN;
      expect(boxes.map((b) => b.title.replace(/ \(.*$/, "")).sort()).toEqual(
        ["all", "main", "a", "b", "c", "plugin_work", "shape_entry", "demo::Shape::area(int, void**, void**) const"].sort(),
      );
      expect(widthOf("c")).toBeCloseTo(widthOf("main"), 2);
      expect(widthOf("shape_entry") / widthOf("c")).toBeCloseTo(20 / 60, 3);
      expect(widthOf("plugin_work") / widthOf("c")).toBeCloseTo(10 / 60, 3);
    } finally {
      s.close();
      await p.stop();
    }
  });

  test("a spot seen before is the same frame, kept apart as a leaf and as a return address", async () => {
    const p = await runOnHost(built);
    const s = createSymbolizer();
    const fresh = createSymbolizer();
    try {
      const first = await s.symbolize(p.pid, mainStack(p));
      const again = await s.symbolize(p.pid, mainStack(p));
      // The frames of a stack seen before are the ones made for it (frames are immutable), with the same names.
      again.forEach((frame, i) => expect(frame).toBe(first[i]));
      expect(names(again)).toEqual(["c", "b", "a", "main"]);
      // sized_fn's first byte as a return address is looked up one byte before it, outside sized_fn; as a leaf, it is
      // sized_fn. One symbolizer asked both ways, in both orders, answers each as a fresh one does.
      const start = at(p, "sized_fn");
      const asReturn = (await s.symbolize(p.pid, [at(p, "inside_c"), start]))[1] as Frame;
      const asLeaf = (await s.symbolize(p.pid, [start]))[0] as Frame;
      const asReturnAgain = (await s.symbolize(p.pid, [at(p, "inside_c"), start]))[1] as Frame;
      expect(asLeaf.name).toBe("sized_fn");
      expect(asReturn.name).not.toBe("sized_fn");
      expect(asReturnAgain).toBe(asReturn);
      const freshLeaf = (await fresh.symbolize(p.pid, [start]))[0] as Frame;
      const freshReturn = (await fresh.symbolize(p.pid, [at(p, "inside_c"), start]))[1] as Frame;
      expect(asLeaf).toEqual(freshLeaf);
      expect(asReturn).toEqual(freshReturn);
    } finally {
      s.close();
      fresh.close();
      await p.stop();
    }
  });

  test("without the debug file, the stripped executable's frames print module+0xoffset, never a wrong name", async () => {
    const p = await runOnHost(built);
    // No global debug directory, and the debuglink's .debug/prog.debug moved away.
    execFileSync("mv", [join(built.dir, ".debug"), join(built.dir, ".debug-hidden")]);
    const s = createSymbolizer({ debugRoots: [] });
    try {
      const frames = await s.symbolize(p.pid, mainStack(p));
      // The executable exports none of main, a, b, c in .dynsym: without the debug file none has a name.
      expect(frames.map((f) => formatFrame(f))).toEqual(frames.map((f) => `${join(built.dir, "prog")}+0x${(f.offset as bigint).toString(16)}`));
      expect(names(frames)).toEqual([undefined, undefined, undefined, undefined]);
    } finally {
      execFileSync("mv", [join(built.dir, ".debug-hidden"), join(built.dir, ".debug")]);
      s.close();
      await p.stop();
    }
  });
});
