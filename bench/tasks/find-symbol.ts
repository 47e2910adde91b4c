/**
 * Task (b): the file offset of one function (`uv_run`) in /usr/bin/node
 * (~99 MB, ~185k symbols). Target: ≤ 2 ms cold, i.e. in a fresh Node
 * process on a freshly opened file (page cache warm), timed from open to
 * result; the median of 10 such processes.
 */
import { printTask, type Row } from "../table.js";
import { elfinfoSymbolsRow } from "./elfinfo-symbols.js";
import { lineCount, medianMs, peerRow, probecRow } from "./rows.js";

const hex = (n: unknown): string => (typeof n === "number" ? `offset 0x${n.toString(16)}` : `no answer (${String(n)})`);

/** Runs task (b) and prints its table. */
export function findSymbolTask(print: (line: string) => void, path = "/usr/bin/node", name = "uv_run"): void {
  const rows: Row[] = [];
  const probec = probecRow(`probec findSymbol(${name})`, "fresh process", "probec-find", { path, name }, 10, hex);
  rows.push(probec);

  // readelf prints st_value (an address), not a file offset: the caller still has to map it through the program headers.
  const readelfAnswer = (out: string): string => {
    const value = out.trim().split("\n")[0]?.trim().split(/\s+/)[1];
    return value === undefined ? "not found" : `addr 0x${value.replace(/^0+/, "")} (${lineCount(out)} lines; no offset)`;
  };
  rows.push(
    peerRow(
      `readelf -sW --dyn-syms | grep -w ${name}`,
      {
        stages: [
          ["readelf", "-sW", "--dyn-syms", path],
          ["grep", "-w", name],
        ],
        capture: true,
        warmup: 1,
        runs: 5,
        budgetS: 10,
        timeoutS: 60,
      },
      readelfAnswer,
    ),
  );
  rows.push(elfinfoSymbolsRow(path, name, "find", hex));
  rows.push(
    peerRow(
      `bpftrace -l 'uprobe:${path}:${name}'`,
      { stages: [["bpftrace", "-l", `uprobe:${path}:${name}`]], capture: true, warmup: 1, runs: 10, budgetS: 5, timeoutS: 60 },
      (out) => (out.includes(name) ? "listed (no offset)" : "not found"),
    ),
  );
  printTask(print, `(b) file offset of ${name} in ${path}`, rows, [
    { what: "probec cold median (open to result)", value: medianMs(probec), limit: 2, unit: "ms" },
  ]);
}
