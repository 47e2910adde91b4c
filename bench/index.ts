/**
 * probec's benchmark: `npm run bench` (bootstrap --bench, build, then
 * `node --expose-gc dist/bench/index.js`).
 *
 * For each task of the performance issue it prints one table: probec beside
 * the peers measured in the same run, then the task's targets, MET or
 * MISSED. It is a benchmark, not a test: it always exits 0, and a task
 * that cannot run prints why. See bench/README.md for what each figure means.
 */
import { loadLine, printMachine, warmPageCache } from "./machine.js";
import { resolveScopesTask, resolveTargetTask } from "./tasks/targets.js";
import { findSymbolTask } from "./tasks/find-symbol.js";
import { listSymbolsTask } from "./tasks/list-symbols.js";
import { findLibjvm, usdtTask } from "./tasks/usdt.js";
import { compileTask } from "./tasks/compile.js";
import { checkImageTask } from "./tasks/check-image.js";
import { attachNodeTask } from "./tasks/attach-node.js";
import { attachHitTask } from "./tasks/attach-hit.js";
import { attachRateTask } from "./tasks/attach-rate.js";
import { startupTask } from "./tasks/startup.js";
import { traceStartTask } from "./tasks/trace-start.js";
import { goReturnHitTask } from "./tasks/go-return-hit.js";
import { goReturnsTask } from "./tasks/go-returns.js";
import { symbolizeTask } from "./tasks/symbolize.js";
import { demangleTask } from "./tasks/demangle.js";
import { followStartTask } from "./tasks/follow-start.js";
import { followAttachTask } from "./tasks/follow-attach.js";
import { followIdleTask } from "./tasks/follow-idle.js";
import { histLatencyHitTask, ustackCountHitTask } from "./tasks/aggregate-hit.js";

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const began = performance.now();
printMachine(print);
if (process.env["BENCH_ONLY"] === undefined) for (const path of [findLibjvm(), "/usr/bin/node"]) if (path !== undefined) warmPageCache(path);

const tasks: [string, () => void | Promise<void>][] = [
  ["(a)", () => usdtTask(print)],
  ["(b)", () => findSymbolTask(print)],
  ["(c)", () => listSymbolsTask(print)],
  ["(d)", () => resolveTargetTask(print)],
  ["(e)", () => resolveScopesTask(print)],
  ["(f)", () => compileTask(print)],
  ["(g)", () => checkImageTask(print)],
  ["(h)", () => attachNodeTask(print)],
  ["(i)", () => attachHitTask(print)],
  ["(j)", () => attachRateTask(print)],
  ["(k)", () => startupTask(print)],
  ["(l)", () => traceStartTask(print)],
  ["(m)", () => goReturnsTask(print)],
  ["(n)", () => goReturnHitTask(print)],
  ["(o)", () => symbolizeTask(print)],
  ["(u)", () => demangleTask(print)],
  ["(r)", () => followStartTask(print)],
  ["(s)", () => followAttachTask(print)],
  ["(t)", () => followIdleTask(print)],
  ["(p)", () => histLatencyHitTask(print)],
  ["(q)", () => ustackCountHitTask(print)],
];
/** `BENCH_ONLY=f` (or `a,f`): run only those tasks. */
const only = process.env["BENCH_ONLY"]?.split(",").map((t) => `(${t.trim()})`);
for (const [name, task] of tasks) {
  if (only !== undefined && !only.includes(name)) continue;
  try {
    await task();
  } catch (error) {
    print(`\n${name} failed inside the bench itself: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
print(`\n${loadLine()}`);
print(`bench finished in ${((performance.now() - began) / 1000).toFixed(0)} s`);
