/**
 * Task (u): demangling the 50,310 distinct C++ names of /usr/bin/node that
 * task (o)'s 10,000 stacks hit (the same count: the first 50,310 of the
 * sorted, distinct `_Z` names of node's `.symtab`, read with `nm`), each
 * once, in a fresh Node process (JIT cold, module load included):
 * probec's own Itanium demangler alone, probec's demangler as the
 * symbolizer uses it (the own one, the wasm for the few names it declines),
 * the wasm (gecko-profiler-demangle) alone as probec used it before, and
 * GNU `c++filt` with the names on stdin (process start included), with the
 * ratios. The issue sets no target for demangling alone: this is the
 * demangler's share of task (o), whose target (≤ 200 ms) it judges.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildResult } from "../measure.js";
import { printTask, type Row } from "../table.js";
import { childAnswer, childSamples, lineCount, medianMs, peerRow } from "./rows.js";

const NAMES = 50_310;
const PROCESSES = 5;
const CHILD = fileURLToPath(new URL("../demangle-child.js", import.meta.url));

/** Runs task (u) and prints its table. */
export function demangleTask(print: (line: string) => void, exe = "/usr/bin/node"): void {
  const title = `(u) demangling the ${NAMES} C++ names of ${exe} that task (o) hits, once each, fresh process`;
  const nm = spawnSync("nm", [exe], { encoding: "utf8", maxBuffer: 512 << 20 });
  if (nm.status !== 0) {
    print(`\n${title}\n  skipped: nm ${exe} failed (${nm.stderr.trim() || String(nm.error)})`);
    return;
  }
  const all = new Set<string>();
  for (const line of nm.stdout.split("\n")) {
    const name = line.slice(line.lastIndexOf(" ") + 1).replace(/@.*$/, "");
    if (name.startsWith("_Z")) all.add(name);
  }
  const names = [...all].sort().slice(0, NAMES);
  const dir = mkdtempSync(join(tmpdir(), "probec-bench-demangle-"));
  try {
    const file = join(dir, "names.txt");
    writeFileSync(file, `${names.join("\n")}\n`);
    const childRow = (tool: string, demangler: string): Row => {
      const results = Array.from({ length: PROCESSES }, () => runDemangleChild(file, demangler));
      const failure = results.find((r) => r.failure !== undefined)?.failure;
      const last = results.at(-1);
      const loads = results.flatMap((r) => r.lines.map((l) => (typeof l["loadMs"] === "number" ? l["loadMs"] : undefined))).filter((v) => v !== undefined);
      const answer = last === undefined ? undefined : childAnswer(last, demangler);
      return {
        tool,
        scope: "fresh process",
        samples: results.flatMap((r) => childSamples(r, demangler)),
        bytesHow: "n/a",
        answer: typeof answer === "number" ? `${answer} demangled` : "",
        note: `${failure === undefined ? "" : `FAILED: ${failure}; `}of which loading the demangler: ${loads.map((v) => `${v.toFixed(1)} ms`).join(", ")}`,
      };
    };
    const own = childRow("probec demangleItanium (own, alone)", "own");
    const probec = childRow("probec loadUncachedDemangler (own + wasm fallback)", "probec");
    const wasm = childRow("gecko-profiler-demangle wasm (probec before)", "wasm");
    const cxxfilt = peerRow(
      `c++filt < ${NAMES} names`,
      { stages: [["cat", file], ["c++filt"]], capture: true, warmup: 1, runs: PROCESSES, budgetS: 30, timeoutS: 60 },
      (out) => `${lineCount(out)} lines`,
    );
    const ownMs = medianMs(own);
    const ratio = (row: Row, of: number | undefined = ownMs): string => {
      const other = medianMs(row);
      return of === undefined || other === undefined ? "not measured" : `${(of / other).toFixed(2)}×`;
    };
    printTask(print, title, [own, probec, wasm, cxxfilt], []);
    print(
      `  ratios (medians): probec's own / the wasm ${ratio(wasm)}; probec's own / c++filt ${ratio(cxxfilt)}; own + fallback / the wasm ${ratio(wasm, medianMs(probec))}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runDemangleChild(file: string, demangler: string): ChildResult {
  const r = spawnSync(process.execPath, ["--expose-gc", CHILD, JSON.stringify({ names: file, demangler })], { encoding: "utf8", timeout: 120_000 });
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  let failure: string | undefined;
  if (r.error !== undefined) failure = r.error.message;
  else if (r.status !== 0) failure = `exited with ${r.status ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`;
  return { lines, failure };
}
