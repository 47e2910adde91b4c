/**
 * The part of a `probec run`/`trace` session that prints what the kernel
 * aggregated and the stacks it captured: each report of the attacher as a
 * block (stdout; `interval` blocks headed by the time), hits a full map
 * could not count (stderr, never left out, even with `-q`), and at exit
 * `--folded` stacks (stdout) and the `--flamegraph` SVG (a file).
 *
 * Loaded only by sessions whose plan aggregates or captures stacks, so that
 * a plain tracing session does not load it.
 */
import { writeFileSync } from "node:fs";
import { IoError, AggregateTotals, type AggregateSnapshot, type AttachPlan, type ProbeEvent } from "../index.js";
import { AGGREGATE_LIMITS, AGGREGATION_DEFAULTS } from "../plan/index.js";
import { droppedLine, planAggregates, renderSnapshot, renderSnapshotJson, type AggregateInfo } from "./aggregate-output.js";
import type { CliIo } from "./io.js";
import { flameGraphSvg, StackCollector } from "./stack-output.js";

/** How a session prints aggregations and stacks. */
export interface AggregateOutputOptions {
  readonly json: boolean;
  /** Print only the captured stacks, folded, at exit. */
  readonly folded: boolean;
  /** Write a flame graph of the captured stacks to this file at exit. */
  readonly flamegraph: string | undefined;
}

/** Prints one session's reports and stacks. */
export class AggregateOutput {
  private readonly aggregations: AggregateInfo[];
  private readonly interval: boolean;
  private readonly mapKeys: number;
  private readonly stacks: StackCollector | undefined;
  private readonly totals = new AggregateTotals();
  private printed = 0;

  constructor(
    private readonly plan: AttachPlan,
    private readonly options: AggregateOutputOptions,
    private readonly io: CliIo,
  ) {
    this.aggregations = planAggregates(plan);
    const aggregation = plan.aggregation ?? AGGREGATION_DEFAULTS;
    this.interval = aggregation.intervalMs !== null && aggregation.intervalMs > 0;
    this.mapKeys = aggregation.mapKeys;
    this.stacks = options.folded || options.flamegraph !== undefined ? new StackCollector(plan) : undefined;
  }

  /** True when the plan captures a user stack (what `--folded` and `--flamegraph` draw). */
  static capturesStacks(plan: AttachPlan): boolean {
    return StackCollector.captures(plan);
  }

  /** True when the plan has something for this class to print. */
  static wanted(plan: AttachPlan): boolean {
    return plan.probes.some((p) => (p.program?.aggregates.length ?? 0) > 0) || StackCollector.captures(plan);
  }

  /**
   * One report: printed when it is an `interval` report or the final one (a
   * report asked for without reset, as `--metrics` does, is not this output's).
   */
  snapshot(snapshot: AggregateSnapshot): void {
    // Only the reports printed warn of dropped hits: a report asked for without reset (each --metrics scrape) repeats the
    // cumulative count, which would say it again at every scrape (probec_dropped_total has it there).
    if (!snapshot.final && !snapshot.reset) return;
    for (const result of snapshot.results) {
      const line = droppedLine(result, this.mapKeys, AGGREGATE_LIMITS.maxMapKeys);
      if (line !== undefined) this.io.stderr.write(line);
    }
    if (this.stacks !== undefined) this.totals.add(snapshot);
    if (this.options.folded) return;
    const now = new Date();
    if (this.options.json) {
      this.io.stdout.write(renderSnapshotJson(snapshot, now, this.aggregations));
      return;
    }
    if (this.aggregations.length === 0 && snapshot.results.length === 0) return;
    const heading = this.interval ? now.toTimeString().slice(0, 8) : undefined;
    this.io.stdout.write(`${this.printed > 0 ? "\n" : ""}${renderSnapshot(this.aggregations, snapshot, heading)}`);
    this.printed++;
  }

  /** An event: its stacks are collected for `--folded`/`--flamegraph`; returns true when it must not be printed (`--folded` prints only stacks). */
  event(event: ProbeEvent): boolean {
    this.stacks?.addEvent(event);
    return this.options.folded;
  }

  /** At exit: the folded stacks on stdout, the flame graph to its file. Returns a status line for the file, if one was written. */
  finish(): string | undefined {
    if (this.stacks === undefined) return undefined;
    const folded = this.stacks.folded(this.totals.results());
    if (this.options.folded) this.io.stdout.write(folded);
    const file = this.options.flamegraph;
    if (file === undefined) return undefined;
    const title = `probec: ${[...new Set(this.plan.probes.map((p) => p.id))].join(", ")}`;
    try {
      writeFileSync(file, flameGraphSvg(folded, title, "hits"));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new IoError(`--flamegraph ${file}: cannot write the flame graph (${code ?? (error as Error).message})`, code, [
        "name a file in a directory you can write to",
      ]);
    }
    const stacks = folded === "" ? 0 : folded.split("\n").length - 1;
    return `flame graph of ${stacks} stack${stacks === 1 ? "" : "s"} written to ${file}${stacks === 0 ? " (no stack was captured)" : ""}`;
  }
}
