/**
 * The script the benchmark runs in fresh Node processes:
 *
 *     node --expose-gc dist/bench/child.js <mode> '<json args>'
 *
 * Modules are imported before any clock starts, so "cold" means a fresh
 * process, a freshly opened file and unoptimised code, not module loading.
 * Each measurement is printed as one JSON line on stdout:
 * `{"label", "ms", "peakRssGrowth", "bytesRead", "rchar", "answer"}`.
 */
import { compile } from "../src/compile/compile.js";
import { checkImage, findSymbol, findUsdt, listSymbols, resolveScope, resolveTarget } from "../src/index.js";
import { ElfFile } from "../src/elf/elf-file.js";
import { iterateSymbols } from "../src/elf/list-symbols.js";
import { FileSource } from "../src/io/file-source.js";
import { findReturnInstructions, goFunctions } from "../src/golang/index.js";
import { procStatus, sinceMark, startMark } from "./measure.js";

interface Args {
  readonly path: string;
  readonly name?: string;
  readonly warmup?: number;
  readonly runs?: number;
  readonly budgetMs?: number;
  /** (d): the target spec and the DOCKER_HOST of the daemon. */
  readonly target?: string;
  readonly host?: string;
  /** (e): the containers whose scopes are resolved. */
  readonly names?: readonly string[];
  /** (f): the probe file's text. */
  readonly source?: string;
  /** (m): how many of the largest Go functions to scan. */
  readonly count?: number;
}

/** (m): the `count` largest Go functions of `path`, each scanned for its return instructions. */
function goReturns(args: Args, reuse?: ElfFile): { answer: unknown; bytesRead: number } {
  const source = reuse?.source ?? FileSource.open(args.path);
  const before = source.bytesRead;
  const elf = reuse ?? ElfFile.open(source, args.path);
  const largest = [...goFunctions(elf)].sort((a, b) => b.size - a.size).slice(0, args.count ?? 1000);
  let returns = 0;
  let refused = 0;
  for (const fn of largest) {
    if (fn.fileOffset === undefined) continue;
    const found = findReturnInstructions(elf, { address: fn.entry, size: fn.size, fileOffset: fn.fileOffset });
    if ("refused" in found) refused++;
    else returns += found.offsets.length;
  }
  if (reuse === undefined) elf.close();
  return { answer: { functions: largest.length, returns, refused }, bytesRead: source.bytesRead - before };
}

/** elfinfo is loaded only by the elfinfo modes, so that probec's processes carry none of it. */
const elfinfo = (): Promise<typeof import("./elfinfo-peer.js")> => import("./elfinfo-peer.js");

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Times `body` once (open to result) and emits it; `body` returns the answer and probec's bytesRead. */
async function once(label: string, body: () => Promise<{ answer: unknown; bytesRead?: number }>, kind: "both" | "time" | "memory" = "both"): Promise<void> {
  const mark = startMark({ timingOnly: kind === "time" });
  const { answer, bytesRead } = await body();
  const measured = sinceMark(mark);
  emit({ label, ...measured, ms: kind === "memory" ? null : measured.ms, bytesRead, answer });
}

/**
 * `warmup` unrecorded runs, then up to `runs` timed ones within `budgetMs`
 * (JIT-warm, heap as the previous run left it), then a few memory runs, each
 * after a full GC and a reset of the peak-RSS watermark, whose times are
 * not counted: the GC would otherwise be paid for inside the timed window.
 */
async function warm(label: string, args: Args, body: () => Promise<{ answer: unknown; bytesRead?: number }>): Promise<void> {
  for (let i = 0; i < (args.warmup ?? 0); i++) await body();
  const begun = performance.now();
  for (let i = 0; i < (args.runs ?? 1) && (i === 0 || performance.now() - begun < (args.budgetMs ?? Infinity)); i++) await once(label, body, "time");
  for (let i = 0; i < 5; i++) await once(label, body, "memory");
}

const modes: Record<string, (args: Args) => Promise<void>> = {
  /** (a) probec: every USDT site, a freshly opened file per run. */
  "probec-usdt": (args) =>
    warm("probec", args, async () => {
      const source = FileSource.open(args.path);
      const sites = await findUsdt(source); // closes the source; bytesRead survives close
      return { answer: sites.length, bytesRead: source.bytesRead };
    }),
  /** (a) elfinfo: read whole, parse, walk the notes. */
  "elfinfo-usdt": async (args) => {
    const { elfinfoOpen, elfinfoUsdtOffsets } = await elfinfo();
    await warm("elfinfo", args, async () => ({ answer: elfinfoUsdtOffsets(await elfinfoOpen(args.path)).length }));
  },
  /** (b) probec: one function's file offset, cold. */
  "probec-find": (args) =>
    once("probec", async () => {
      const source = FileSource.open(args.path);
      const found = await findSymbol(source, args.name ?? "main");
      return { answer: found.fileOffset, bytesRead: source.bytesRead };
    }),
  /** (c) probec, streaming: count what iterateSymbols yields, keep nothing. */
  "probec-iterate": (args) =>
    once("probec", async () => {
      const source = FileSource.open(args.path);
      const elf = ElfFile.open(source, args.path);
      let count = 0;
      for (const _ of iterateSymbols(elf)) count++;
      elf.close();
      return { answer: count, bytesRead: source.bytesRead };
    }),
  /** (c) probec, public API: the sorted array (kept alive until measured, as a caller would). */
  "probec-list": (args) =>
    once("probec", async () => {
      const source = FileSource.open(args.path);
      const all = await listSymbols(source); // defaults, as a caller would: node has its own .symtab, so no debug-file search
      return { answer: all.length, bytesRead: source.bytesRead };
    }),
  /** (d) probec: one docker target to its symbol's file offset, cold (call to result). */
  "probec-target": (args) =>
    once("probec", async () => {
      const resolved = await resolveTarget(args.target ?? "", { docker: { host: args.host } });
      return { answer: resolved.groups[0]?.symbols?.[0]?.fileOffset };
    }),
  /** (e) probec: every container's scope, one resolveScope after another, in one fresh process. */
  "probec-scopes": (args) =>
    once("probec", async () => {
      let processes = 0;
      for (const ref of args.names ?? []) processes += (await resolveScope({ kind: "docker", ref }, { docker: { host: args.host } })).processes.length;
      return { answer: { scopes: args.names?.length ?? 0, processes } };
    }),
  /** (f) probec: compile() of a whole spec against the docker daemon `host`, cold (call to plan). */
  "probec-compile": (args) =>
    once(
      "probec",
      async () => {
        const { plan, diagnostics } = await compile(args.source ?? "", { file: "bench.probe", docker: { host: args.host } });
        const errors = diagnostics.filter((d) => d.severity === "error").map((d) => `${d.location.start.line}:${d.location.start.column} ${d.message}`);
        const probes = new Set(plan?.probes.map((p) => `${p.source.line}:${p.source.col}`)).size;
        return { answer: { probes, entries: plan?.probes.length ?? 0, points: plan?.probes.reduce((n, p) => n + p.points.length, 0) ?? 0, errors } };
      },
      "time",
    ),
  /** (g) probec: checkImage() of inline targets (`names`) in the image at `path`, cold (call to result). */
  "probec-check": (args) =>
    once("probec", async () => {
      const result = await checkImage(args.path, [...(args.names ?? [])]);
      const missing = result.checks.filter((c) => c.status !== "found").map((c) => c.target);
      return { answer: { found: result.checks.length - missing.length, total: result.checks.length, missing } };
    }),
  /** (m) probec, cold: open, read the pclntab, load the x86 decoder, scan the 1,000 largest functions. */
  "probec-go-returns": (args) => once("probec", async () => goReturns(args)),
  /** (m) probec, warm: the same file and decoder reused, only the scans timed. */
  "probec-go-returns-warm": async (args) => {
    const elf = ElfFile.open(FileSource.open(args.path), args.path);
    await warm("probec", args, async () => goReturns(args, elf));
  },
  /** (b) and (c) elfinfo: one parse, then the lookup, then the listing; each phase emitted cumulatively. */
  "elfinfo-symbols": async (args) => {
    const { elfinfoFind, elfinfoList, elfinfoOpen } = await elfinfo();
    const mark = startMark();
    const file = await elfinfoOpen(args.path);
    emit({ label: "open", ...sinceMark(mark) });
    const phase = (label: string, body: () => unknown): void => {
      const t = performance.now();
      const answer = body();
      const ms = performance.now() - t;
      emit({ label, ms, peakRssGrowth: Math.max(0, procStatus("VmHWM") - (mark.rss ?? 0)), answer });
    };
    phase("find", () => elfinfoFind(file, args.name ?? "main"));
    phase("list", () => elfinfoList(file).length);
  },
};

const [mode = "", json = "{}"] = process.argv.slice(2);
const run = modes[mode];
if (run === undefined) {
  process.stderr.write(`bench child: unknown mode "${mode}"; one of ${Object.keys(modes).join(", ")}\n`);
  process.exit(2);
}
await run(JSON.parse(json) as Args);
