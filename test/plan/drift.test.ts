/**
 * The closed sets of src/plan (probe kinds, path strategies, runtimes,
 * captures) are defined once; the copies that cannot import the definition
 * are read here and compared with it, so that a change in one place and not
 * the other fails a test instead of failing at attach time:
 *
 * - schema/attach-plan.schema.json: the enums of `kind`, `strategy`,
 *   `runtime`, a capture expression's `name`, a field's `type`, and an
 *   aggregate's `fn` (src/plan/aggregates.ts);
 * - native/include/probec_abi.h: `enum probec_capture` (the ABI codes);
 * - native/src/plan.h and plan.c: the kind and strategy names, in the order
 *   of the C enums the reader casts them to;
 * - native/src/lower.c: the capture names it lowers to which codes, the
 *   kinds each is valid in, and the header captures;
 * - native/bpf/probec.bpf.c: the `capture()` switch that reads each code.
 *
 * Each check is also run once on a deliberately altered copy of its input,
 * to show that the parse sees the difference (a check that cannot fail
 * proves nothing).
 *
 * The schema's enums can be rewritten from the definition, so that adding a
 * capture (or a strategy, a runtime) is one entry in src/plan plus its
 * native code:
 *
 *     UPDATE_SCHEMA=1 npx vitest run test/plan/drift.test.ts    # rewrite them
 */
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AGGREGATE_FNS,
  CAPTURES,
  CAPTURE_NAMES,
  captureAbiConstant,
  captureDef,
  cAbiOf,
  type CaptureName,
  PATH_STRATEGY_NAMES,
  PLAN_ABIS,
  PLAN_LANGUAGES,
  PLAN_RUNTIME_NAMES,
  POINT_SIDES,
  PROBE_KINDS,
  type ProbeKind,
} from "../../src/plan/index.js";

const root = new URL("../../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), "utf8");

/** The schema with its enums set from the definition; everything else kept as it is. */
function syncSchemaEnums(text: string): string {
  const schema = JSON.parse(text) as {
    $defs: {
      probe: { properties: { kind: { enum: unknown[] }; strategy: { enum: unknown[] } } };
      target: { properties: { runtime: { enum: unknown[] } } };
      field: { properties: { type: { enum: unknown[] } } };
      aggregate: { properties: { fn: { enum: unknown[] } } };
      expr: { oneOf: { properties: { op?: { const?: string }; name?: { enum?: unknown[] } } }[] };
    };
  };
  const d = schema.$defs;
  d.probe.properties.kind.enum = [...PROBE_KINDS];
  d.probe.properties.strategy.enum = [...PATH_STRATEGY_NAMES];
  d.target.properties.runtime.enum = [...PLAN_RUNTIME_NAMES];
  d.field.properties.type.enum = valueTypes();
  d.aggregate.properties.fn.enum = [...AGGREGATE_FNS];
  const capture = d.expr.oneOf.find((branch) => branch.properties.op?.const === "capture")?.properties.name;
  if (capture !== undefined) capture.enum = [...CAPTURE_NAMES];
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** The types a field may have, sorted: those of the captures (`int`, `string`), and `stack` for a `ustack` field (an expression of its own, not a capture). */
function valueTypes(): string[] {
  return [...new Set([...CAPTURE_NAMES.map((n) => captureDef(n).type), "stack"])].sort();
}

if (process.env["UPDATE_SCHEMA"] === "1") {
  writeFileSync(new URL("schema/attach-plan.schema.json", root), syncSchemaEnums(read("schema/attach-plan.schema.json")));
}
const schemaText = read("schema/attach-plan.schema.json");
const abiH = read("native/include/probec_abi.h");
const planH = read("native/src/plan.h");
const planC = read("native/src/plan.c");
const lowerC = read("native/src/lower.c");
const bpfC = read("native/bpf/probec.bpf.c");

/** Every `enum` in the schema, by JSON pointer. */
function schemaEnums(text: string): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  const walk = (node: unknown, pointer: string): void => {
    if (node === null || typeof node !== "object") return;
    const obj = node as Record<string, unknown>;
    if (Array.isArray(obj.enum)) out.set(pointer, obj.enum);
    for (const [key, value] of Object.entries(obj)) walk(value, `${pointer}/${key}`);
  };
  walk(JSON.parse(text), "#");
  return out;
}

/** The enum of the capture expression: the `oneOf` branch whose `op` is `"capture"`. */
function schemaCaptureNames(text: string): unknown[] | undefined {
  const schema = JSON.parse(text) as { $defs: { expr: { oneOf: { properties: { op?: { const?: string }; name?: { enum?: unknown[] } } }[] } } };
  return schema.$defs.expr.oneOf.find((branch) => branch.properties.op?.const === "capture")?.properties.name?.enum;
}

/** `static const char *const NAME[] = {"a", "b"};` → ["a", "b"], each occurrence in order. */
function cStringArrays(text: string, name: string): string[][] {
  const re = new RegExp(`static const char \\*const ${name}\\[\\] = \\{([^}]*)\\}`, "g");
  return [...text.matchAll(re)].map((m) => [...(m[1] ?? "").matchAll(/"([^"]*)"/g)].map((s) => s[1] ?? ""));
}

/** The names plan.c's reader accepts for a JSON member (`kind`, `strategy`): the array passed to its `enum_member` call. */
function planMemberNames(text: string, member: string): string[] | undefined {
  const re = new RegExp(`static const char \\*const (\\w+)\\[\\] = \\{([^}]*)\\};\\s*int \\w+ = enum_member\\(c, p, "${member}", \\1,`);
  const m = re.exec(text);
  return m === null ? undefined : [...(m[2] ?? "").matchAll(/"([^"]*)"/g)].map((s) => s[1] ?? "");
}

/** The members of a C enum: `enum NAME { A = 0, B, … }` → [[A, 0], [B, 1], …]. */
function cEnum(text: string, name: string): [string, number][] {
  const body = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) return [];
  const out: [string, number][] = [];
  let next = 0;
  for (const item of body.replace(/\/\*[\s\S]*?\*\//g, "").split(",")) {
    const m = /^\s*(\w+)\s*(?:=\s*(\d+))?\s*$/.exec(item);
    if (m === null) continue;
    const value = m[2] === undefined ? next : Number(m[2]);
    out.push([m[1] as string, value]);
    next = value + 1;
  }
  return out;
}

/** `PLAN_UPROBE_RET` → `uprobe+ret`, by position in `enum plan_kind` and the reader's `kinds[]`. */
function planKindByConstant(): Map<string, string> {
  const names = planMemberNames(planC, "kind") ?? [];
  return new Map(cEnum(planH, "plan_kind").map(([constant, value]) => [constant, names[value] ?? "?"]));
}

/** What lower.c does with a capture expression: its name → code constant, kinds allowed per constant, header names. */
function lowerCaptures(text: string): { codes: Map<string, string>; kinds: Map<string, string[]>; header: string[] } {
  const block = /strcmp\(op, "capture"\) == 0\) \{([\s\S]*?)\n {2}\}/.exec(text)?.[1] ?? "";
  const names = cStringArrays(block, "names")[0] ?? [];
  const constants = [...(/static const uint8_t captures\[\] = \{([^}]*)\}/.exec(block)?.[1]?.matchAll(/PROBEC_CAP_\w+/g) ?? [])].map((m) => m[0]);
  const codes = new Map(names.map((n, i) => [n, constants[i] ?? "?"]));
  const byConstant = planKindByConstant();
  const kinds = new Map<string, string[]>();
  for (const m of block.matchAll(/captures\[i\] == (PROBEC_CAP_\w+)((?: && kind != PLAN_\w+)+)/g)) {
    kinds.set(
      m[1] as string,
      [...(m[2] ?? "").matchAll(/PLAN_\w+/g)].map((k) => byConstant.get(k[0]) ?? k[0]),
    );
  }
  const header = [...(/bool is_header = ([^;]*);/.exec(text)?.[1]?.matchAll(/strcmp\(capture, "(\w+)"\)/g) ?? [])].map((m) => m[1] as string);
  return { codes, kinds, header };
}

/** The codes the BPF program's `capture()` switch reads. */
function bpfCaptureCases(text: string): string[] {
  const body = /__s64 capture\([^)]*\)\s*\{([\s\S]*?)\n\}/.exec(text)?.[1] ?? "";
  return [...body.matchAll(/case (PROBEC_CAP_\w+):/g)].map((m) => m[1] as string);
}

const integerCaptures = CAPTURE_NAMES.filter((n) => captureDef(n).abi !== "header");
const headerCaptures = CAPTURE_NAMES.filter((n) => captureDef(n).abi === "header");

/** Differences between the definition and the schema's enums; empty when they agree. */
function schemaDrift(text: string): string[] {
  const enums = schemaEnums(text);
  const out: string[] = [];
  const same = (what: string, got: unknown[] | undefined, want: readonly unknown[]): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${what}: schema has ${JSON.stringify(got)}, src/plan defines ${JSON.stringify(want)}`);
  };
  same("#/$defs/probe/properties/kind", enums.get("#/$defs/probe/properties/kind"), PROBE_KINDS);
  same("#/$defs/probe/properties/strategy", enums.get("#/$defs/probe/properties/strategy"), PATH_STRATEGY_NAMES);
  same("#/$defs/target/properties/runtime", enums.get("#/$defs/target/properties/runtime"), PLAN_RUNTIME_NAMES);
  same("#/$defs/expr capture name", schemaCaptureNames(text), CAPTURE_NAMES);
  same("#/$defs/field/properties/type", enums.get("#/$defs/field/properties/type"), valueTypes());
  same("#/$defs/aggregate/properties/fn", enums.get("#/$defs/aggregate/properties/fn"), AGGREGATE_FNS);
  return out;
}

/** Differences between the definition and `enum probec_capture`; empty when they agree. */
function abiDrift(text: string): string[] {
  const got = new Map(cEnum(text, "probec_capture"));
  const want = new Map(integerCaptures.map((n) => [captureAbiConstant(n), captureDef(n).abi as number]));
  const out: string[] = [];
  for (const [constant, code] of want)
    if (got.get(constant) !== code) out.push(`${constant}: probec_abi.h has ${got.get(constant)}, src/plan/captures.ts says ${code}`);
  for (const [constant, code] of got)
    if (!want.has(constant)) out.push(`${constant} = ${code} is in probec_abi.h but no capture of src/plan/captures.ts has it`);
  return out;
}

describe("src/plan against the copies it cannot generate", () => {
  it("the JSON schema's enums are the definition's", () => {
    expect(schemaDrift(schemaText)).toEqual([]);
  });

  it("probec_abi.h's enum probec_capture has exactly the integer captures, with their codes", () => {
    expect(abiDrift(abiH)).toEqual([]);
  });

  it("native/src/plan.c reads the kinds and strategies the definition lists, in the order of plan.h's enums", () => {
    expect(planMemberNames(planC, "kind")).toEqual(PROBE_KINDS);
    expect(planMemberNames(planC, "strategy")).toEqual(PATH_STRATEGY_NAMES);
    // plan_strategy_name(), which prints a strategy back.
    expect(
      /plan_strategy_name\(enum plan_strategy s\) \{\s*static const char \*const names\[\] = \{([^}]*)\}/
        .exec(planC)?.[1]
        ?.match(/"[^"]*"/g)
        ?.map((q) => q.slice(1, -1)),
    ).toEqual(PATH_STRATEGY_NAMES);
    expect(cEnum(planH, "plan_kind").map(([c]) => c)).toEqual(PROBE_KINDS.map((k) => `PLAN_${k.toUpperCase().replace("+", "_")}`));
    expect(cEnum(planH, "plan_strategy").map(([c]) => c)).toEqual(PATH_STRATEGY_NAMES.map((s) => `PLAN_${s.toUpperCase()}`));
  });

  it("native/src/lower.c lowers every integer capture to its code, in the kinds the definition allows, and knows the header captures", () => {
    const lowered = lowerCaptures(lowerC);
    expect(Object.fromEntries(lowered.codes)).toEqual(Object.fromEntries(integerCaptures.map((n) => [n, captureAbiConstant(n)])));
    const restricted = integerCaptures.filter((n) => captureDef(n).kinds.length < PROBE_KINDS.length);
    expect(Object.fromEntries(lowered.kinds)).toEqual(Object.fromEntries(restricted.map((n) => [captureAbiConstant(n), [...captureDef(n).kinds]])));
    expect(lowered.header).toEqual(headerCaptures);
  });

  it("the BPF program's capture() reads every integer capture", () => {
    expect(bpfCaptureCases(bpfC).sort()).toEqual(integerCaptures.map(captureAbiConstant).sort());
  });

  it("the definition itself is consistent: codes unique, header captures are strings, every capture valid somewhere", () => {
    const codes = integerCaptures.map((n) => captureDef(n).abi);
    expect(new Set(codes).size).toBe(codes.length);
    for (const n of headerCaptures) expect(captureDef(n).type).toBe("string");
    for (const n of CAPTURE_NAMES) {
      expect(captureDef(n).kinds.length).toBeGreaterThan(0);
      for (const k of captureDef(n).kinds) expect(PROBE_KINDS).toContain(k as ProbeKind);
    }
  });
});

describe("the drift checks see a drift", () => {
  it("a schema without one capture name, or with a strategy more, is reported", () => {
    const dropped = schemaText.replace(/"latency"\s*\]/, "]").replace(/,(\s*)\]/, "$1]");
    expect(schemaDrift(dropped).join("\n")).toContain("capture name");
    const schema = JSON.parse(schemaText) as { $defs: { probe: { properties: { strategy: { enum: string[] } } } } };
    schema.$defs.probe.properties.strategy.enum.push("bind");
    expect(schemaDrift(JSON.stringify(schema))).toEqual([expect.stringContaining("strategy")]);
  });

  it("a schema whose aggregate functions lack one, or whose field types lack `stack`, is reported", () => {
    const schema = JSON.parse(schemaText) as {
      $defs: { aggregate: { properties: { fn: { enum: string[] } } }; field: { properties: { type: { enum: string[] } } } };
    };
    schema.$defs.aggregate.properties.fn.enum.pop();
    schema.$defs.field.properties.type.enum = ["int", "string"];
    expect(schemaDrift(JSON.stringify(schema))).toEqual([expect.stringContaining("field/properties/type"), expect.stringContaining("aggregate/properties/fn")]);
  });

  it("UPDATE_SCHEMA's rewrite mends a drifted schema and leaves an agreeing one byte for byte", () => {
    const schema = JSON.parse(schemaText) as { $defs: { target: { properties: { runtime: { enum: string[] } } } } };
    schema.$defs.target.properties.runtime.enum.pop();
    const drifted = JSON.stringify(schema, null, 2);
    expect(schemaDrift(drifted)).not.toEqual([]);
    expect(schemaDrift(syncSchemaEnums(drifted))).toEqual([]);
    expect(syncSchemaEnums(schemaText)).toBe(schemaText);
  });

  it("a changed or extra code in probec_abi.h is reported", () => {
    expect(abiDrift(abiH.replace("PROBEC_CAP_CPU = 3", "PROBEC_CAP_CPU = 7"))).toEqual([expect.stringContaining("PROBEC_CAP_CPU: probec_abi.h has 7")]);
    expect(abiDrift(abiH.replace("PROBEC_CAP_PID = 0,", "PROBEC_CAP_PID = 0,\n  PROBEC_CAP_GOSTR = 6,"))).toEqual([
      expect.stringContaining("PROBEC_CAP_GOSTR = 6"),
    ]);
  });

  it("a capture added to the definition but not to the native tables is reported", () => {
    const name = "gostr_probe_only_in_test" as CaptureName;
    const extended = [...integerCaptures, name];
    expect(bpfCaptureCases(bpfC).sort()).not.toEqual(extended.map(captureAbiConstant).sort());
    expect([...lowerCaptures(lowerC).codes.keys()]).not.toContain(name);
    expect(Object.keys(CAPTURES)).not.toContain(name);
  });
});

/** The kinds of code (src/plan/code.ts): point sides, ABIs and languages, in the schema and in plan.c's reader. */
function codeDrift(schema: string, reader: string): string[] {
  const enums = schemaEnums(schema);
  const out: string[] = [];
  const same = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${what}: has ${JSON.stringify(got)}, src/plan/code.ts defines ${JSON.stringify(want)}`);
  };
  same("schema #/$defs/point/properties/side", enums.get("#/$defs/point/properties/side"), POINT_SIDES);
  same("schema #/$defs/point/properties/abi", enums.get("#/$defs/point/properties/abi"), PLAN_ABIS);
  same("schema #/$defs/binary/properties/code/properties/language", enums.get("#/$defs/binary/properties/code/properties/language"), PLAN_LANGUAGES);
  same("plan.c sides[]", cStringArrays(reader, "sides")[0], POINT_SIDES);
  same("plan.c languages[]", cStringArrays(reader, "languages")[0], PLAN_LANGUAGES);
  // One abis[] per architecture: that machine's C ABI first, then Go's, in the order of plan.h's enum plan_abi.
  const goAbis = PLAN_ABIS.filter((a) => a.startsWith("go-"));
  same("plan.c abis[] (x86_64)", cStringArrays(reader, "abis")[1], [cAbiOf("x86_64"), ...goAbis]);
  same("plan.c abis[] (aarch64)", cStringArrays(reader, "abis")[0], [cAbiOf("aarch64"), ...goAbis]);
  same(
    "plan.h enum plan_abi",
    cEnum(planH, "plan_abi").map(([c]) => c),
    ["PLAN_ABI_C", ...goAbis.map((a) => (a === "go-abiinternal" ? "PLAN_ABI_GO_INTERNAL" : "PLAN_ABI_GO_ABI0"))],
  );
  return out;
}

describe("the kinds of code against the schema and the native plan reader", () => {
  it("point sides, ABIs and languages are the definition's", () => {
    expect(codeDrift(schemaText, planC)).toEqual([]);
  });

  it("a side missing from plan.c, or an ABI more in the schema, is reported", () => {
    expect(codeDrift(schemaText, planC.replace(', "return-instruction"}', "}"))).toEqual([expect.stringContaining("plan.c sides[]")]);
    const schema = JSON.parse(schemaText) as { $defs: { point: { properties: { abi: { enum: string[] } } } } };
    schema.$defs.point.properties.abi.enum.push("go-abi1");
    expect(codeDrift(JSON.stringify(schema), planC)).toEqual([expect.stringContaining("abi")]);
  });
});
