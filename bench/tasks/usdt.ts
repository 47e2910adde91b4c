/**
 * Task (a): every USDT site of the JDK's libjvm.so (531 sites in OpenJDK
 * 17). Target: ≤ 1 ms in process, warm (median of 50 runs on a freshly
 * opened file each time, after the JIT has warmed up).
 */
import { readdirSync, realpathSync, existsSync } from "node:fs";
import { runChild } from "../measure.js";
import { printTask, type Row } from "../table.js";
import { childAnswer, childSamples, lineCount, medianMs, peerRow, probecRow } from "./rows.js";

/** The first libjvm.so under /usr/lib/jvm (sorted, symlinked JDKs counted once), or `$BENCH_LIBJVM`. */
export function findLibjvm(): string | undefined {
  if (process.env["BENCH_LIBJVM"] !== undefined) return process.env["BENCH_LIBJVM"];
  const root = "/usr/lib/jvm";
  if (!existsSync(root)) return undefined;
  const found = readdirSync(root)
    .sort()
    .map((jdk) => `${root}/${jdk}/lib/server/libjvm.so`)
    .filter((p) => existsSync(p))
    .map((p) => realpathSync(p));
  return found[0];
}

/** Runs task (a) and prints its table. */
export function usdtTask(print: (line: string) => void): void {
  const title = "(a) all USDT sites of libjvm.so";
  const path = findLibjvm();
  if (path === undefined) {
    print(`\n${title}\n  skipped: no /usr/lib/jvm/*/lib/server/libjvm.so (install a JDK, or set BENCH_LIBJVM)`);
    return;
  }
  const sites = (n: unknown): string => `${String(n)} sites`;
  const rows: Row[] = [];
  const probec = probecRow("probec findUsdt (open + all sites)", "in process", "probec-usdt", { path, warmup: 100, runs: 50 }, 1, sites);
  rows.push(probec);

  const countProviders = (out: string): string => `${out.split("\n").filter((l) => /^\s+Provider:/.test(l)).length} sites`;
  rows.push(peerRow("readelf -n", { stages: [["readelf", "-n", path]], capture: true, warmup: 3, runs: 30, budgetS: 5, timeoutS: 30 }, countProviders));

  // elfinfo parses the whole file per open (~10 s here): one warm-up and what fits in 25 s.
  const elfinfo = runChild("elfinfo-usdt", { path, warmup: 1, runs: 50, budgetMs: 25_000 }, 120_000);
  const elfinfoSamples = childSamples(elfinfo, "elfinfo");
  rows.push({
    tool: "elfinfo open + note walk",
    scope: "in process",
    samples: elfinfoSamples,
    bytesHow: "rchar",
    answer: elfinfoSamples.length === 0 ? "" : sites(childAnswer(elfinfo, "elfinfo")),
    note: elfinfo.failure !== undefined ? `skipped: ${elfinfo.failure}` : "1 warm-up, then as many runs as fit in 25 s (a full parse per open)",
  });

  const probes = (out: string): string => `${lineCount(out)} probes (provider:name, deduplicated)`;
  rows.push(
    peerRow(
      `bpftrace -l 'usdt:PATH:*'`,
      { stages: [["bpftrace", "-l", `usdt:${path}:*`]], capture: true, warmup: 1, runs: 10, budgetS: 5, timeoutS: 60 },
      probes,
    ),
  );
  rows.push(peerRow("tplist-bpfcc -l PATH", { stages: [["tplist-bpfcc", "-l", path]], capture: true, warmup: 1, runs: 10, budgetS: 5, timeoutS: 60 }, probes));

  printTask(print, `${title}: ${path}`, rows, [{ what: "probec warm median", value: medianMs(probec), limit: 1, unit: "ms" }]);
}
