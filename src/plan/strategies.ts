/**
 * The path strategies, defined once: what path the kernel is handed for a
 * binary (docs/design.md, "Path strategies"). The DSL's `option strategy`,
 * the CLI's `--strategy` choices and the plan's `strategy` derive from this
 * table; the JSON schema and native/src/plan.c are checked against it by
 * test/plan/drift.test.ts.
 *
 * Pure data: no I/O.
 */

/** Every path strategy, with what it hands the kernel (order: the native reader's numbering). */
export const PATH_STRATEGIES = {
  fd: "open the canonical container path inside the target's root, attach through /proc/self/fd/N",
  root: "/proc/<pid>/root/<path>",
  layer: "the file in the overlay layer that holds it",
  map: "/proc/<pid>/map_files/<range> or /proc/<pid>/exe",
  host: "the plain path (host scope)",
} as const satisfies Record<string, string>;

/** What path the kernel is handed for a binary. */
export type PathStrategy = keyof typeof PATH_STRATEGIES;

/** Every strategy name, in definition order. */
export const PATH_STRATEGY_NAMES = Object.keys(PATH_STRATEGIES) as PathStrategy[];

/** True when `name` is a path strategy. */
export function isPathStrategy(name: string): name is PathStrategy {
  return Object.hasOwn(PATH_STRATEGIES, name);
}
