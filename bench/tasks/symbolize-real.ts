/**
 * Task (o), real stacks: what issue 15 literally asks ("symbolizing 10,000
 * distinct stacks of a real program", target ≤ 200 ms), beside the
 * synthetic worst case of symbolize.ts.
 *
 * The stacks are libc malloc's user stacks captured by probec in a
 * running `node` doing varied work (real-stacks.ts): the first 10,000
 * distinct ones of the report (largest count first). Real stacks share
 * most of their functions, and they span several objects (node, libc,
 * libstdc++, V8's JIT code, which no file names). Frames after the first
 * are return addresses, so every tool looks them up at `address - 1`.
 *
 * probec runs as in the synthetic rows: cold in 3 fresh processes, cold
 * with names left mangled, warm. The peer is `llvm-symbolizer` over the
 * same frames, one `"OBJECT" 0xADDRESS` line each (its stdin form when no
 * `--obj` is given), the object and link-time address taken from an
 * untimed probec pass (`Frame.module`, `Frame.elfAddress`; the workload
 * runs on the host, so the process's paths are the host's). Frames in no
 * file-backed mapping (JIT code) cannot be given to it and are counted in
 * the note. The same untimed pass gives the counts printed (distinct
 * addresses, distinct functions) and the names llvm-symbolizer's are
 * compared with.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSymbolizer } from "../../src/symbolize/index.js";
import { printTask, type Row, type Target } from "../table.js";
import { captureRealStacks, type RealStacks } from "./real-stacks.js";
import { childSamples, medianMs, peerRow } from "./rows.js";

const STACKS = 10_000;
const CHILD = fileURLToPath(new URL("../symbolize-child.js", import.meta.url));

/** What the untimed probec pass found, and llvm-symbolizer's input built from it. */
interface Survey {
  frames: number;
  addresses: number;
  functions: number;
  /** One `"OBJECT" 0xADDR` line per file-backed frame. */
  peerLines: string[];
  /** probec's name for each peer line (undefined: unnamed). */
  probecNames: (string | undefined)[];
  /** Frames not given to the peer: in a mapping without a file path (`[vdso]`), or in no file-backed executable mapping (V8's JIT code). */
  anonymous: number;
  unmapped: number;
}

async function survey(pid: number, stacks: readonly (readonly bigint[])[]): Promise<Survey> {
  const symbolizer = createSymbolizer();
  const s: Survey = { frames: 0, addresses: 0, functions: 0, peerLines: [], probecNames: [], anonymous: 0, unmapped: 0 };
  const addresses = new Set<bigint>();
  const functions = new Set<string>();
  try {
    for (const stack of stacks) {
      const frames = await symbolizer.symbolize(pid, stack);
      frames.forEach((frame, i) => {
        s.frames++;
        addresses.add(frame.address);
        if (frame.symbol !== undefined) functions.add(`${frame.module ?? ""}\0${frame.symbol}`);
        if (frame.module === undefined) s.unmapped++;
        else if (!frame.module.startsWith("/") || frame.elfAddress === undefined) s.anonymous++;
        else {
          // A return address is looked up at address - 1 (the call), as probec does.
          s.peerLines.push(`"${frame.module}" 0x${(frame.elfAddress - (i > 0 ? 1n : 0n)).toString(16)}`);
          s.probecNames.push(frame.name);
        }
      });
    }
  } finally {
    symbolizer.close();
  }
  s.addresses = addresses.size;
  s.functions = functions.size;
  return s;
}

/** llvm-symbolizer's function names, one per input line (`??` when unnamed). */
function llvmNames(out: string): string[] {
  return out
    .split(/\n\n+/)
    .filter((block) => block.trim() !== "")
    .map((block) => block.split("\n")[0] ?? "??");
}

/** Captures the real stacks, then measures and prints the real-stack table of task (o). */
export async function symbolizeRealTask(print: (line: string) => void, exe = "/usr/bin/node"): Promise<void> {
  const title = `(o) symbolizing ${STACKS} distinct real stacks: libc malloc's user stacks captured by probec in a running ${exe} doing varied work`;
  let captured: RealStacks;
  try {
    captured = await captureRealStacks(exe);
  } catch (error) {
    print(`\n${title}\n  FAILED to capture the stacks: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "probec-bench-symbolize-real-"));
  try {
    const { pid, stacks: all, hits, dropped } = captured;
    if (all.length < STACKS) {
      print(
        `\n${title}\n  FAILED: only ${all.length} distinct stacks were captured (${hits} malloc calls), ${STACKS} are needed: make bench/tasks/node-workload.cjs do more kinds of work`,
      );
      return;
    }
    const stacks = all.slice(0, STACKS).map((k) => k.addresses);
    const stacksFile = join(dir, "stacks.json");
    writeFileSync(stacksFile, JSON.stringify(stacks.map((s) => s.map((a) => `0x${a.toString(16)}`))));
    const found = await survey(pid, stacks);
    const peerFile = join(dir, "peer-input.txt");
    writeFileSync(peerFile, `${found.peerLines.join("\n")}\n`);

    const runChildren = (demangle: boolean) =>
      Array.from({ length: 3 }, () =>
        spawnSync(process.execPath, ["--expose-gc", CHILD, JSON.stringify({ pid, stacks: stacksFile, demangle, returnAddresses: true })], {
          encoding: "utf8",
          timeout: 120_000,
        }),
      );
    const linesOf = (runs: ReturnType<typeof runChildren>) =>
      runs.flatMap((r) =>
        r.stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    const failedNote = (runs: ReturnType<typeof runChildren>) => {
      const f = runs.find((r) => r.status !== 0);
      return f === undefined ? {} : { note: `FAILED: exit ${f.status ?? f.signal}: ${f.stderr.trim().split("\n").slice(-3).join(" / ")}` };
    };
    const answerOf = (lines: Record<string, unknown>[], label: string): string => {
      const a = lines.filter((l) => l["label"] === label).at(-1)?.["answer"] as { named: number; frames: number; demangled: number } | undefined;
      return a === undefined ? "" : `${a.named}/${a.frames} frames named, ${a.demangled} demangled`;
    };
    const demangling = runChildren(true);
    const mangled = runChildren(false);
    const lines = linesOf(demangling);
    const mangledLines = linesOf(mangled);
    const cold: Row = {
      tool: "probec symbolize real stacks (cold: snapshot, index, demangler, stacks)",
      scope: "fresh process",
      samples: childSamples({ lines, failure: undefined }, "cold"),
      bytesHow: "rchar",
      answer: answerOf(lines, "cold"),
      ...failedNote(demangling),
    };
    const coldMangled: Row = {
      tool: "probec symbolize real stacks (cold, names left mangled)",
      scope: "fresh process",
      samples: childSamples({ lines: mangledLines, failure: undefined }, "cold"),
      bytesHow: "rchar",
      answer: answerOf(mangledLines, "cold"),
      ...failedNote(mangled),
    };
    const warm: Row = {
      tool: "probec symbolize real stacks (warm: same symbolizer again)",
      scope: "fresh process",
      samples: childSamples({ lines, failure: undefined }, "warm"),
      bytesHow: "rchar",
      answer: answerOf(lines, "warm"),
    };
    const llvm = peerRow(
      `llvm-symbolizer --no-inlines < ${found.peerLines.length} "OBJECT" 0xADDR lines`,
      {
        stages: [
          ["cat", peerFile],
          ["llvm-symbolizer", "--no-inlines"],
        ],
        capture: true,
        warmup: 0,
        runs: 3,
        budgetS: 60,
        timeoutS: 120,
      },
      (out) => {
        const names = llvmNames(out);
        const named = names.filter((n) => n !== "??").length;
        let same = 0;
        let bothNamed = 0;
        names.forEach((n, i) => {
          const p = found.probecNames[i];
          if (n === "??" || p === undefined) return;
          bothNamed++;
          if (n === p) same++;
        });
        return `${named}/${names.length} frames named; same name as probec on ${same} of ${bothNamed} named by both`;
      },
    );
    const llvmNote = `given the ${found.peerLines.length} frames in files; not the ${found.unmapped} in no file-backed mapping (V8's JIT code: [unknown] to every tool) nor the ${found.anonymous} in a kernel-named one ([vdso])`;
    const captureNote = `captured: ${all.length} distinct stacks from ${hits.toLocaleString("en")} malloc calls (${dropped} dropped), pid ${pid}; symbolized: the first ${STACKS} (largest count first): ${found.frames} frames, ${found.addresses} distinct addresses, ${found.functions} distinct functions`;
    const coldMs = medianMs(cold);
    const llvmMs = medianMs(llvm);
    const targets: Target[] = [
      {
        what: `probec cold median, ${STACKS} real stacks (${found.addresses} distinct addresses, ${found.functions} functions)`,
        value: coldMs,
        limit: 200,
        unit: "ms",
      },
      {
        what: "probec cold median / llvm-symbolizer median, same real frames",
        value: coldMs === undefined || llvmMs === undefined ? undefined : coldMs / llvmMs,
        limit: 1,
        unit: "×",
      },
    ];
    printTask(
      print,
      title,
      [
        { ...cold, note: [cold.note, captureNote].filter((n) => n !== undefined).join("; ") },
        coldMangled,
        warm,
        { ...llvm, note: [llvm.note, llvmNote].filter((n) => n !== undefined).join("; ") },
      ],
      targets,
    );
  } finally {
    captured.target.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
