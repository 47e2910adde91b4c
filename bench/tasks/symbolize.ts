/**
 * Task (o): symbolizing 10,000 distinct user stacks of a real program
 * (issue 15, "Speed": target ≤ 200 ms, time and memory printed).
 *
 * Two tables: this file's synthetic worst case, then the real stacks of
 * symbolize-real.ts (malloc's stacks captured in a running node).
 *
 * The worst case: the program is a running `node` (its executable carries a 100k-function
 * `.symtab`, mostly C++, so demangling is exercised). The stacks are
 * synthetic but made of real addresses: 16 frames each, every frame a
 * random spot inside a random sized function of node's `.symtab`
 * (seeded, so every run asks the same), taken at the addresses where the
 * running process maps them (node is not PIE, so they equal the link-time
 * addresses the peers take).
 *
 * probec runs in fresh Node processes: cold (a new symbolizer: the
 * process's snapshot, indexing node's tables, loading the demangler, then
 * every stack), the same cold pass with names left mangled (the
 * demangler's share: the stacks hit ~50k distinct C++ names, each
 * demangled once), and warm (the same stacks again). bpftrace has no offline
 * symbolizer, so the peers are the binutils and LLVM symbolizers over the
 * same addresses, file-based and demangling (`addr2line -f -C`,
 * `llvm-symbolizer`, and `eu-addr2line` when elfutils is installed),
 * with the ratio.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { STT_FUNC } from "../../src/elf/constants.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { FileSource } from "../../src/io/file-source.js";
import { printTask, type Row, type Target } from "../table.js";
import { childSamples, medianMs, peerRow } from "./rows.js";
import { symbolizeRealTask } from "./symbolize-real.js";

const STACKS = 10_000;
const DEPTH = 16;
/** Stacks given to the slow peers (and to a probec row beside them). */
const SMALL = 1_000;
const CHILD = fileURLToPath(new URL("../symbolize-child.js", import.meta.url));

/** Runs task (o) and prints its two tables: the synthetic worst case, then real stacks (symbolize-real.ts). */
export async function symbolizeTask(print: (line: string) => void, exe = "/usr/bin/node"): Promise<void> {
  await symbolizeSyntheticTask(print, exe);
  await symbolizeRealTask(print, exe);
}

/** The synthetic worst case: every frame a random function of node's `.symtab`. */
async function symbolizeSyntheticTask(print: (line: string) => void, exe: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "probec-bench-symbolize-"));
  let target: ChildProcess | undefined;
  try {
    target = spawn(exe, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
    await new Promise<void>((resolve, reject) => {
      target?.once("spawn", resolve);
      target?.once("error", reject);
    });
    // Let the loader map everything before the snapshot.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stacks = makeStacks(exe);
    const stacksFile = join(dir, "stacks.json");
    writeFileSync(stacksFile, JSON.stringify(stacks.map((s) => s.map((a) => `0x${a.toString(16)}`))));
    const addressesFile = join(dir, "addresses.txt");
    writeFileSync(
      addressesFile,
      `${stacks
        .flat()
        .map((a) => `0x${a.toString(16)}`)
        .join("\n")}\n`,
    );
    const distinct = new Set(stacks.flat()).size;
    const smallFile = join(dir, "addresses-small.txt");
    writeFileSync(
      smallFile,
      `${stacks
        .slice(0, SMALL)
        .flat()
        .map((a) => `0x${a.toString(16)}`)
        .join("\n")}\n`,
    );

    const runChildren = (limit: number, demangle = true) =>
      Array.from({ length: 3 }, () =>
        spawnSync(process.execPath, ["--expose-gc", CHILD, JSON.stringify({ pid: target?.pid, stacks: stacksFile, limit, demangle })], {
          encoding: "utf8",
          timeout: 120_000,
        }),
      );
    const results = runChildren(STACKS);
    const small = runChildren(SMALL);
    const mangled = runChildren(STACKS, false);
    const smallSamples = childSamples(
      {
        lines: small.flatMap((r) =>
          r.stdout
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        ),
        failure: undefined,
      },
      "cold",
    );
    const linesOf = (runs: typeof results) =>
      runs.flatMap((r) =>
        r.stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    const lines = linesOf(results);
    const failure = results.find((r) => r.status !== 0);
    const answerOf = (label: string, from = lines): string => {
      const a = from.filter((l) => l["label"] === label).at(-1)?.["answer"] as
        | { named: number; frames: number; demangled: number; functions?: number }
        | undefined;
      return a === undefined
        ? ""
        : `${a.named}/${a.frames} frames named, ${a.demangled} demangled${a.functions === undefined ? "" : `, ${a.functions} functions indexed`}`;
    };
    const result = { lines, failure: undefined };
    const failed =
      failure === undefined ? {} : { note: `FAILED: exit ${failure.status ?? failure.signal}: ${failure.stderr.trim().split("\n").slice(-3).join(" / ")}` };
    const cold: Row = {
      tool: "probec symbolize (cold: snapshot, index, demangler, stacks)",
      scope: "fresh process",
      samples: childSamples(result, "cold"),
      bytesHow: "rchar",
      answer: answerOf("cold"),
      ...failed,
    };
    // The same cold pass with names left mangled: what the demangler (50k distinct C++ names of node) costs, beside the rest.
    const mangledLines = linesOf(mangled);
    const mangledFailure = mangled.find((r) => r.status !== 0);
    const coldMangled: Row = {
      tool: "probec symbolize (cold, names left mangled: no demangler)",
      scope: "fresh process",
      samples: childSamples({ lines: mangledLines, failure: undefined }, "cold"),
      bytesHow: "rchar",
      answer: answerOf("cold", mangledLines),
      ...(mangledFailure === undefined ? {} : { note: `FAILED: exit ${mangledFailure.status ?? mangledFailure.signal}` }),
    };
    const warm: Row = {
      tool: "probec symbolize (warm: same symbolizer again)",
      scope: "fresh process",
      samples: childSamples(result, "warm"),
      bytesHow: "rchar",
      answer: answerOf("warm"),
    };

    const count = (out: string, perAddress: number): string => {
      const lines = out.split("\n").filter((l) => l.trim() !== "");
      const unnamed = lines.filter((_, i) => i % perAddress === 0).filter((l) => l.startsWith("??")).length;
      return `${Math.floor(lines.length / perAddress) - unnamed}/${Math.floor(lines.length / perAddress)} named`;
    };
    const spec = (file: string, stage: string[]) => ({ stages: [["cat", file], stage], capture: true, warmup: 0, runs: 3, budgetS: 60, timeoutS: 120 });
    // addr2line and eu-addr2line take minutes over 160,000 addresses (a linear scan per address): they get the first 1,000 stacks.
    const llvm = peerRow(`llvm-symbolizer --obj=${exe} < ${STACKS} stacks`, spec(addressesFile, ["llvm-symbolizer", "--no-inlines", `--obj=${exe}`]), (out) =>
      count(out.replace(/\n\n/g, "\n"), 2),
    );
    const smallCold: Row = { tool: `probec symbolize (cold, first ${SMALL} stacks)`, scope: "fresh process", samples: smallSamples, bytesHow: "rchar" };
    const slowPeers = [
      peerRow(`addr2line -f -C -e ${exe} < ${SMALL} stacks`, spec(smallFile, ["addr2line", "-f", "-C", "-e", exe]), (out) => count(out, 2)),
      peerRow(`eu-addr2line -f -C -e ${exe} < ${SMALL} stacks`, spec(smallFile, ["eu-addr2line", "-f", "-C", "-e", exe]), (out) => count(out, 2)),
    ];
    const coldMs = medianMs(cold);
    const smallMs = medianMs(smallCold);
    const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a / b);
    const targets: Target[] = [
      {
        what: `worst case (every frame a different function): probec cold median (${STACKS} synthetic stacks, ${distinct} distinct addresses)`,
        value: coldMs,
        limit: 200,
        unit: "ms",
      },
      { what: "probec cold median / llvm-symbolizer median, same stacks", value: ratio(coldMs, medianMs(llvm)), limit: 1, unit: "×" },
      ...slowPeers.map((peer) => ({
        what: `probec cold median / ${peer.tool.split(" ")[0]} median, first ${SMALL} stacks`,
        value: ratio(smallMs, medianMs(peer)),
        limit: 1,
        unit: "×" as const,
      })),
    ];
    printTask(
      print,
      `(o) worst case: symbolizing ${STACKS} synthetic stacks of ${DEPTH} frames of a running ${exe}, every frame a different function`,
      [cold, coldMangled, warm, llvm, smallCold, ...slowPeers],
      targets,
    );
  } finally {
    target?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seeded stacks of addresses inside sized functions of `exe`'s .symtab (deterministic: xorshift32 from a fixed seed). */
function makeStacks(exe: string): bigint[][] {
  const elf = ElfFile.open(FileSource.open(exe), exe);
  const functions: [bigint, bigint][] = [];
  const table = elf.symbolTable("symtab") ?? elf.symbolTable("dynsym");
  for (const batch of table?.batches((info, shndx) => (info & 0xf) === STT_FUNC && shndx !== 0) ?? []) {
    for (const raw of batch) if (raw.st_size > 0n) functions.push([raw.st_value, raw.st_size]);
  }
  elf.close();
  let seed = 0x2545f491;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const stacks: bigint[][] = [];
  for (let i = 0; i < STACKS; i++) {
    const stack: bigint[] = [];
    for (let d = 0; d < DEPTH; d++) {
      const [start, size] = functions[next() % functions.length] as [bigint, bigint];
      stack.push(start + (BigInt(next()) % size));
    }
    stacks.push(stack);
  }
  return stacks;
}
