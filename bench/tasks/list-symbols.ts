/**
 * Task (c): every function of /usr/bin/node. Targets: ≤ 150 ms and peak
 * RSS growth ≤ 16 MiB, for the streaming `iterateSymbols` and for the
 * public `listSymbols` (a sorted array with file offsets), each in fresh
 * Node processes (median of 5).
 */
import { printTask, type Row, type Target } from "../table.js";
import { elfinfoSymbolsRow } from "./elfinfo-symbols.js";
import { medianMs, medianPeakRss, peerRow, probecRow } from "./rows.js";

const MIB = 1 << 20;
const functions = (n: unknown): string => `${String(n)} functions`;

/** Runs task (c) and prints its table. */
export function listSymbolsTask(print: (line: string) => void, path = "/usr/bin/node"): void {
  const iterate = probecRow("probec iterateSymbols (count)", "fresh process", "probec-iterate", { path }, 5, functions);
  const list = probecRow("probec listSymbols (sorted array)", "fresh process", "probec-list", { path }, 5, functions);
  const rows: Row[] = [iterate, list];
  rows.push(
    peerRow(
      `readelf -sW --dyn-syms > /dev/null`,
      { stages: [["readelf", "-sW", "--dyn-syms", path]], warmup: 1, runs: 3, budgetS: 10, timeoutS: 60 },
      () => "",
    ), // prints every symbol, unfiltered
  );
  rows.push(
    peerRow(
      `bpftrace -l 'uprobe:${path}:*' | wc -l`,
      {
        stages: [
          ["bpftrace", "-l", `uprobe:${path}:*`],
          ["wc", "-l"],
        ],
        capture: true,
        warmup: 1,
        runs: 5,
        budgetS: 10,
        timeoutS: 60,
      },
      (out) => `${out.trim()} probes (names, deduplicated)`,
    ),
  );
  rows.push(elfinfoSymbolsRow(path, "uv_run", "list", (n) => `${String(n)} functions (both tables, duplicates kept)`));
  const targets: Target[] = [
    { what: "probec iterateSymbols median time", value: medianMs(iterate), limit: 150, unit: "ms" },
    { what: "probec iterateSymbols peak RSS growth", value: medianPeakRss(iterate), limit: 16 * MIB, unit: "bytes" },
    { what: "probec listSymbols median time", value: medianMs(list), limit: 150, unit: "ms" },
    { what: "probec listSymbols peak RSS growth", value: medianPeakRss(list), limit: 16 * MIB, unit: "bytes" },
  ];
  printTask(print, `(c) all functions of ${path}`, rows, targets);
}
