/**
 * A small, strict reader of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), for the
 * tests: prom-client writes the format but has no parser. Strict means a
 * line it cannot read, a sample of a family with no `# TYPE`, a bad metric
 * or label name, a bad escape, a duplicate label or series, or a value that
 * is not a number all throw, naming the line.
 */

/** One sample: its labels and value. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family: `# TYPE`, `# HELP` and its samples by metric name. */
export interface Family {
  readonly type: string;
  readonly help: string | undefined;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"];

/** Parses exposition text into families by name; throws naming the first line it cannot read. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  if (!text.endsWith("\n")) throw new Error("exposition text must end with a newline");
  text
    .slice(0, -1)
    .split("\n")
    .forEach((line, i) => {
      const where = `line ${i + 1} ${JSON.stringify(line)}`;
      if (line === "") return;
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      const help = /^# HELP (\S+) (.*)$/.exec(line);
      if (type !== null) {
        const [, name = "", kind = ""] = type;
        if (!METRIC_NAME.test(name) || !TYPES.includes(kind)) throw new Error(`${where}: bad TYPE line`);
        const before = families.get(name);
        if (before !== undefined && before.samples.length > 0) throw new Error(`${where}: TYPE after the family's samples`);
        families.set(name, { type: kind, help: before?.help, samples: [] });
        return;
      }
      if (help !== null) {
        const [, name = "", doc = ""] = help;
        const before = families.get(name);
        families.set(name, { type: before?.type ?? "untyped", help: doc, samples: before?.samples ?? [] });
        return;
      }
      if (line.startsWith("#")) return;
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?[0-9]+)?$/.exec(line);
      if (sample === null) throw new Error(`${where}: not a sample`);
      const [, name = "", labelText, valueText = ""] = sample;
      const family = families.get(familyOf(name, families)) ?? undefined;
      if (family === undefined) throw new Error(`${where}: ${name} has no # TYPE`);
      const labels = labelText === undefined ? {} : parseLabels(labelText.slice(1, -1), where);
      const value = parseValue(valueText, where);
      const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
      if (seen.has(id)) throw new Error(`${where}: duplicate series`);
      seen.add(id);
      family.samples.push({ labels, value });
    });
  return families;
}

/** The family a sample name belongs to: itself, or a histogram/summary's base name. */
function familyOf(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"])
    if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  return name;
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== "") {
    const m = /^([^=]+)="((?:[^"\\\n]|\\.)*)"(,|$)/.exec(rest);
    if (m === null) throw new Error(`${where}: bad labels at ${JSON.stringify(rest)}`);
    const [whole, name = "", raw = ""] = m;
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    labels[name] = raw.replace(/\\(.)/g, (_e, c: string) => {
      if (c === "n") return "\n";
      if (c === "\\" || c === '"') return c;
      throw new Error(`${where}: bad escape \\${c}`);
    });
    rest = rest.slice(whole.length);
  }
  return labels;
}

/** A value as Prometheus reads it (Go's strconv.ParseFloat: `NaN` and `Inf` in any case; prom-client writes `Nan`). */
function parseValue(text: string, where: string): number {
  if (/^\+?inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text)) throw new Error(`${where}: ${JSON.stringify(text)} is not a number`);
  return Number(text);
}

/** The value of the one sample of `family` whose labels include `labels`; throws when none or several match. */
export function sampleValue(families: Map<string, Family>, family: string, labels: Record<string, string> = {}): number {
  const f = families.get(family);
  if (f === undefined) throw new Error(`no family ${family}; families: ${[...families.keys()].join(", ")}`);
  const matching = f.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length !== 1) throw new Error(`${matching.length} samples of ${family} match ${JSON.stringify(labels)}: ${JSON.stringify(f.samples)}`);
  return (matching[0] as Sample).value;
}
