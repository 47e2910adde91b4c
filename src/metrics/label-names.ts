/**
 * Prometheus label names for `count by KEY, …` keys. A key is written as
 * an expression (`comm`, `arg0 % 4`, `str(arg1, 32)`), a label name must
 * match `[a-zA-Z_][a-zA-Z0-9_]*` and may not start with `__` (reserved for
 * Prometheus itself: https://prometheus.io/docs/concepts/data_model/).
 * The rule, documented in the README's metrics section:
 *
 * 1. every run of characters other than letters, digits and `_` becomes
 *    one `_`, and `_` is trimmed from both ends: `arg0 % 4` → `arg0_4`,
 *    `str(arg1, 32)` → `str_arg1_32`;
 * 2. an empty name, or one that starts with a digit, gets `key_` in front:
 *    `4 * arg0` → `key_4_arg0`;
 * 3. a name taken already (by the fixed labels `probe`, `namespace`,
 *    `pod`, `container`, or by an earlier key of the same probe) gets `_2`,
 *    `_3`, … : `count by arg0, -arg0` → `arg0`, `arg0_2`.
 *
 * The key `container` is not renamed: it fills the `container` label (and
 * `namespace`/`pod` for a pod's container), see probe-metrics.ts.
 */

/** Labels every `probec_count_total` series may carry before its keys. */
export const FIXED_LABELS = ["probe", "namespace", "pod", "container"] as const;

/** One key's label name by rules 1 and 2, before collisions. */
export function sanitizeLabelName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return name === "" || /^[0-9]/.test(name) ? `key_${name}`.replace(/_+$/, "") : name;
}

/**
 * The label name of each key of one probe, in order (rule 3 applied); the
 * key `container` maps to `container` itself (its value names the container).
 */
export function keyLabelNames(keyTexts: readonly string[]): string[] {
  const taken = new Set<string>(FIXED_LABELS);
  let containerUsed = false;
  return keyTexts.map((text) => {
    if (text === "container" && !containerUsed) {
      containerUsed = true;
      return "container";
    }
    const base = sanitizeLabelName(text);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    return name;
  });
}
