/**
 * `--folded` and `--flamegraph FILE.svg`: the user stacks a session
 * captured, as folded stacks (the format flamegraph.pl, inferno and
 * speedscope read) and as a flame graph (src/symbolize/flamegraph.ts).
 *
 * What is drawn, added up over the whole session (across `interval` resets):
 * - each row of an aggregation keyed by `ustack`, weighted by its hits
 *   (by its sum for `sum(…) by ustack`: "which caller allocates most");
 *   its other keys (`count by comm, ustack`) become the frames below the
 *   stack, so a flame graph splits by them first;
 * - each event of a probe with a `ustack` field, one hit each.
 * When the plan has more than one such aggregation or probe, each stack
 * starts with the probe (and aggregation) it came from.
 *
 * Frames are the functions without offsets (StackKey.functions), so that
 * calls from different spots of one function are one box.
 */
import type { AggregateKeyValue, AggregateResult, AttachPlan, ProbeEvent, StackKey } from "../index.js";
import { textValue } from "./event-output.js";
import { foldStacks, renderFlameGraph, type CountedStack } from "./internal.js";

/** Collects a session's stacks. */
export class StackCollector {
  private readonly events = new Map<string, number>();
  /** Several sources: each stack is rooted at its source's name. */
  private readonly rooted: boolean;

  constructor(plan: AttachPlan) {
    this.rooted = stackSources(plan).length > 1;
  }

  /** True when `plan` captures any stack (a `ustack` field or key). */
  static captures(plan: AttachPlan): boolean {
    return stackSources(plan).length > 0;
  }

  /** Counts the stacks of one event's `ustack` fields. */
  addEvent(event: ProbeEvent): boolean {
    let any = false;
    for (const [name, value] of Object.entries(event.fields)) {
      if (typeof value !== "object" || value === null) continue;
      any = true;
      const frames = [...value.functions, ...(this.rooted ? [`${event.probeId} ${name}`] : [])];
      const line = frames.join("\0");
      this.events.set(line, (this.events.get(line) ?? 0) + 1);
    }
    return any;
  }

  /** The folded text of everything collected: the events' stacks and `results` (aggregations summed over the session). */
  folded(results: readonly AggregateResult[]): string {
    const stacks: CountedStack[] = [...this.events].map(([line, count]) => ({ frames: line.split("\0"), count }));
    for (const result of results) {
      const stackAt = result.keyNames.findIndex((_, i) => result.rows.some((r) => isStack(r.keys[i] ?? null)));
      if (stackAt === -1) continue;
      for (const row of result.rows) {
        const stack = row.keys[stackAt] ?? null;
        const weight = Number(result.fn === "sum" ? row.sum : row.count);
        const below = row.keys.filter((_, i) => i !== stackAt).map((k) => (isStack(k) ? k.functions.join(" <- ") : textValue(k)));
        stacks.push({
          frames: [...(isStack(stack) ? stack.functions : ["[no stack]"]), ...below.reverse(), ...(this.rooted ? [`${result.probeId} ${result.text}`] : [])],
          count: weight,
        });
      }
    }
    return foldStacks(stacks);
  }
}

/** A flame graph SVG of folded text. */
export function flameGraphSvg(folded: string, title: string, countName: string): string {
  return renderFlameGraph(folded, { title, countName });
}

/** Where a plan captures stacks: `probe field` for `ustack` fields, `probe aggregation` for `by ustack`. */
function stackSources(plan: AttachPlan): string[] {
  const sources = new Set<string>();
  for (const probe of plan.probes) {
    const program = probe.program;
    if (program === undefined) continue;
    for (const field of program.fields) if (field.type === "stack") sources.add(`${probe.id} ${field.name}`);
    for (const a of program.aggregates) if (a.by.some((e) => e.op === "ustack")) sources.add(`${probe.id} ${a.text}`);
  }
  return [...sources];
}

function isStack(value: AggregateKeyValue): value is StackKey {
  return typeof value === "object" && value !== null;
}
