/**
 * Task (m) (issue 12): every return instruction of the 1,000 largest
 * functions of a real Go binary (Debian's `go` command, 1.19, stripped),
 * the work a `uprobe+ret` on many Go functions needs before it attaches.
 * probec in fresh processes: once cold (the pclntab read and iced-x86's
 * wasm compiled inside the timed window), then JIT-warm; beside it,
 * binutils `objdump -d` over the whole binary counting `ret`s (the way one
 * would find them by hand: it disassembles all of the text, not 1,000
 * functions, and checks nothing). No target: the figures are printed.
 */
import { printTask, type Row } from "../table.js";
import { peerRow, probecRow } from "./rows.js";

const describe = (answer: unknown): string => {
  const a = answer as { functions?: number; returns?: number; refused?: number } | undefined;
  return a === undefined ? "no answer" : `${a.functions} functions, ${a.returns} returns, ${a.refused} refused`;
};

/** Runs task (m) and prints its table. */
export function goReturnsTask(print: (line: string) => void, path = "/usr/lib/go-1.19/bin/go"): void {
  const rows: Row[] = [
    probecRow("probec goFunctions + findReturnInstructions ×1000, cold", "fresh process", "probec-go-returns", { path, count: 1000 }, 3, describe),
    probecRow(
      "probec findReturnInstructions ×1000, warm",
      "fresh process",
      "probec-go-returns-warm",
      { path, count: 1000, warmup: 1, runs: 5, budgetMs: 20_000 },
      1,
      describe,
    ),
  ];
  rows.push(
    peerRow(
      `objdump -d ${path} | grep -c ret (whole text)`,
      {
        stages: [
          ["objdump", "-d", "--no-show-raw-insn", path],
          ["grep", "-cw", "ret"],
        ],
        capture: true,
        warmup: 0,
        runs: 3,
        budgetS: 60,
        timeoutS: 120,
      },
      (out) => `${out.trim()} ret lines`,
    ),
  );
  printTask(print, `(m) return instructions of the 1,000 largest functions of ${path}`, rows, []);
}
