/**
 * The aggregation language (issue 15): `count`, `hist`, `lhist`, `sum`,
 * `avg`, `min`, `max`, `stats`, each with `by` keys; `ustack` as a field
 * and a key; the file-wide `interval` and `option mapkeys`. Parse shapes,
 * normalised clause text, checked results, and every new error with its
 * exact message (the whole rendering: test/dsl/golden/semantic/aggregates.txt).
 */
import { describe, expect, test } from "vitest";
import { aggregateText, checkProbeFile, expressionText, parseProbeFile, renderDiagnostics, type Expression, type Probe } from "../../src/dsl/index.js";
import { expectGolden } from "./golden.js";

function parseOk(source: string) {
  const { ast, diagnostics } = parseProbeFile(source, "t.probe");
  expect(renderDiagnostics(source, "t.probe", diagnostics)).toBe("");
  return ast;
}

function bodyOf(body: string): Probe["body"] {
  const probe = parseOk(`uprobe+ret pid/1:libc:getaddrinfo {\n${body}\n}\n`).items[0];
  if (probe?.type !== "Probe") throw new Error("no probe");
  return probe.body;
}

/** The checked probes of a file that must have no diagnostic. */
function checkOk(source: string) {
  const ast = parseOk(source);
  const result = checkProbeFile(ast);
  expect(renderDiagnostics(source, "t.probe", result.diagnostics)).toBe("");
  return result;
}

/** The diagnostics of a file that parses, as [severity, line, message]. */
function problems(source: string): [string, number, string][] {
  return checkProbeFile(parseOk(source)).diagnostics.map((d) => [d.severity, d.location.start.line, d.message]);
}

const probe = (body: string, kind = "uprobe+ret"): string => `${kind} pid/1:libc:getaddrinfo {\n${body}\n}\n`;

describe("parsing", () => {
  test("every function, with and without keys, is one Aggregate node", () => {
    const body = bodyOf(
      [
        "count",
        "count()",
        "count by comm",
        "hist(latency) by comm, pid",
        "lhist(arg0, -10, 0x64, 5)",
        "sum(arg1)",
        "avg(arg1)",
        "min(arg1)",
        "max(arg1)",
        "stats(arg1) by ustack",
      ].join("\n"),
    );
    expect(body.map((b) => (b.type === "Aggregate" ? [b.fn.name, b.args.length, b.by.length] : b.type))).toEqual([
      ["count", 0, 0],
      ["count", 0, 0],
      ["count", 0, 1],
      ["hist", 1, 2],
      ["lhist", 4, 0],
      ["sum", 1, 0],
      ["avg", 1, 0],
      ["min", 1, 0],
      ["max", 1, 0],
      ["stats", 1, 1],
    ]);
  });

  test("`min`, `max`, `sum`, `hist`, … stay field names", () => {
    const body = bodyOf("min = arg0\nmax = arg1 + 1\nsum = retval\nhist = latency\nstats = pid\ninterval = tid");
    expect(body.map((b) => (b.type === "Field" ? b.name.name : b.type))).toEqual(["min", "max", "sum", "hist", "stats", "interval"]);
  });

  test("`ustack`, `ustack(N)` and `NAME = ustack…` are fields; a bare `ustack(N)` is named `ustack`", () => {
    const body = bodyOf("ustack\nustack(8)\nstack = ustack(127)");
    expect(body.map((b) => (b.type === "Field" ? [b.name.name, expressionText(b.value)] : b.type))).toEqual([
      ["ustack", "ustack"],
      ["ustack", "ustack(8)"],
      ["stack", "ustack(127)"],
    ]);
  });

  test("`interval SECONDS` is a file statement", () => {
    const ast = parseOk("interval 5\noption mapkeys = 100\nuprobe pid/1:libc:malloc { count }\n");
    expect(ast.items.map((i) => i.type)).toEqual(["Interval", "Option", "Probe"]);
    expect(ast.items[0]?.type === "Interval" && ast.items[0].seconds.value).toBe("5");
  });

  test("`interval` takes whole seconds: `1.5` is a syntax error; `interval` needs no reserved word", () => {
    const { diagnostics } = parseProbeFile("interval 1.5\n", "t.probe");
    expect(diagnostics.map((d) => [d.location.start.column, d.message])).toEqual([
      [11, "expected `interval`, `let`, `option`, end of file, or probe kind, found `.`"],
    ]);
    expect(parseOk("let interval = docker/web\nuprobe interval:libc:malloc { pid }\n").items.map((i) => i.type)).toEqual(["Let", "Probe"]);
  });

  test("syntax errors inside a clause point at the token", () => {
    const source = probe("  hist(latency by comm");
    const { diagnostics } = parseProbeFile(source, "t.probe");
    expect(diagnostics.map((d) => [d.location.start.line, d.location.start.column, d.message])).toEqual([
      [2, 16, "expected `,`, `)`, `as`, or operator, found `by`"],
    ]);
  });
});

describe("normalised text", () => {
  const cases: [string, string][] = [
    ["count", "count"],
    ["count()", "count"],
    ["count   by   comm ,pid", "count by comm, pid"],
    ["hist( latency )  by comm", "hist(latency) by comm"],
    ["lhist(arg0,-10,0x64,5)", "lhist(arg0, -10, 0x64, 5)"],
    ["sum((arg0 + arg1) * 2)", "sum((arg0 + arg1) * 2)"],
    ["sum(arg0 + (arg1 * 2))", "sum(arg0 + arg1 * 2)"],
    ["sum(arg0 - (arg1 - arg2))", "sum(arg0 - (arg1 - arg2))"],
    ["avg((arg0 as i32) as u8)", "avg(arg0 as i32 as u8)"],
    ["avg((-arg0) as u8)", "avg((-arg0) as u8)"],
    ["max(-(arg0 as i32))", "max(-arg0 as i32)"],
    ["min((arg0 < 1) == (arg1 < 2))", "min((arg0 < 1) == (arg1 < 2))"],
    ["min(arg0 & 1 == 0 || pid != 2 && cpu > 3)", "min(arg0 & 1 == 0 || pid != 2 && cpu > 3)"],
    ["stats(retval) by str(arg0,64), ustack(4)", "stats(retval) by str(arg0, 64), ustack(4)"],
  ];
  test.each(cases)("%s → %s", (written, text) => {
    const [clause] = bodyOf(written);
    if (clause?.type !== "Aggregate") throw new Error("not an aggregate");
    expect(aggregateText(clause)).toBe(text);
    // The text parses back to the same tree.
    const [again] = bodyOf(text);
    const strip = (e: unknown): unknown => JSON.parse(JSON.stringify(e, (k, v: unknown) => (k === "loc" || k === "raw" ? undefined : v)));
    expect(strip(again)).toEqual(strip(clause));
  });

  test("expressions print back with only the parentheses they need", () => {
    const [field] = bodyOf("x = ((a << b)) + (c - d) * (1) + ((a + b) << c)");
    expect(field?.type === "Field" && expressionText(field.value as Expression)).toBe("(a << b) + (c - d) * 1 + (a + b << c)");
  });
});

describe("checked probes", () => {
  test("the aggregations of a probe, in source order, with their values, keys and lhist bounds", () => {
    const { probes, aggregation } = checkOk(
      probe("  where retval != 0\n  count by comm\n  hist(latency) by comm, ustack\n  lhist(latency, -10, 1000, 10)\n  stats(arg1 as u32)"),
    );
    const [p] = probes;
    expect(aggregation).toBeUndefined();
    expect(p?.fields).toEqual([]);
    expect(p?.aggregates.map((a) => [a.fn, a.text, a.value === undefined ? null : expressionText(a.value), a.by.map(expressionText), a.lhist ?? null])).toEqual(
      [
        ["count", "count by comm", null, ["comm"], null],
        ["hist", "hist(latency) by comm, ustack", "latency", ["comm", "ustack"], null],
        ["lhist", "lhist(latency, -10, 1000, 10)", "latency", [], { min: -10, max: 1000, step: 10 }],
        ["stats", "stats(arg1 as u32)", "arg1 as u32", [], null],
      ],
    );
  });

  test("a `ustack` field has the type `stack`; a printing probe has no aggregation", () => {
    const { probes } = checkOk(probe("  stack = ustack(16)\n  ustack\n  pid", "uprobe"));
    expect(probes[0]?.fields.map((f) => [f.name, f.type])).toEqual([
      ["stack", "stack"],
      ["ustack", "stack"],
      ["pid", "int"],
    ]);
    expect(probes[0]?.aggregates).toEqual([]);
  });

  test("`interval` and `option mapkeys` settle the file's aggregation; either alone defaults the other", () => {
    const count = "uprobe pid/1:libc:malloc { count }\n";
    expect(checkOk(`interval 2\noption mapkeys = 4096\n${count}`).aggregation).toEqual({ intervalMs: 2000, mapKeys: 4096 });
    expect(checkOk(`interval 1\n${count}`).aggregation).toEqual({ intervalMs: 1000, mapKeys: 10240 });
    expect(checkOk(`option mapkeys = 1048576\n${count}`).aggregation).toEqual({ intervalMs: null, mapKeys: 1048576 });
    expect(checkOk(count).aggregation).toBeUndefined();
  });

  test("eight aggregations of one probe are allowed, and eight keys of one", () => {
    const eight = ["count", "sum(arg0)", "avg(arg0)", "min(arg0)", "max(arg0)", "stats(arg0)", "hist(arg0)", "lhist(arg0, 0, 1000, 1)"];
    expect(checkOk(probe(eight.join("\n"), "uprobe")).probes[0]?.aggregates).toHaveLength(8);
    const keys = checkOk(probe("count by pid, tid, comm, container, cpu, arg0, str(arg1), ustack", "uprobe")).probes[0]?.aggregates[0]?.by;
    expect(keys).toHaveLength(8);
  });
});

describe("errors", () => {
  test("exact messages", () => {
    expect(problems(probe("  hsit(latency)"))).toEqual([["error", 2, "unknown aggregation `hsit`"]]);
    expect(problems(probe("  count\n  pid"))).toEqual([["error", 3, "a probe that aggregates prints no fields"]]);
    expect(problems(probe("  where ustack\n  count"))).toEqual([["error", 2, "`ustack` can only be a field or a `by` key, not a `where` filter"]]);
    expect(problems(probe("  sum(comm)"))).toEqual([["error", 2, "`sum` needs an integer value, not a string"]]);
    expect(problems(probe("  lhist(latency, 0, 1001, 1)"))).toEqual([["error", 2, "`lhist` has 1001 steps from 0 to 1001, more than maxLhistBuckets (1000)"]]);
    expect(problems(probe("  lhist(latency, 0, 10, 3)"))).toEqual([]);
    expect(problems(probe("  count by ustack(128)"))).toEqual([["error", 2, "`ustack` frame count 128 is out of range"]]);
    expect(problems("interval 86401\nuprobe pid/1:libc:malloc { count }\n")).toEqual([["error", 1, "`interval` 86401 is out of range"]]);
    expect(problems("option mapkeys = 1048577\nuprobe pid/1:libc:malloc { count }\n")).toEqual([["error", 1, "`mapkeys` 1048577 is out of range"]]);
  });

  test("an `interval` or `mapkeys` in a file that does not aggregate is a warning", () => {
    expect(problems("interval 5\noption mapkeys = 64\nuprobe pid/1:libc:malloc { pid }\n")).toEqual([
      ["warning", 1, "`interval` has no effect: no probe of the file aggregates"],
    ]);
    expect(problems("option mapkeys = 64\nuprobe pid/1:libc:malloc { pid }\n")).toEqual([
      ["warning", 1, "`option mapkeys` has no effect: no probe of the file aggregates"],
    ]);
  });

  const MANY = `interval 0
interval 3
option mapkeys = 0

uprobe+ret pid/1:libc:getaddrinfo {
  option mapkeys = 5
  hsit(latency)
  sum(latency, 2)
  count(arg0)
  avg(str(arg0))
  lhist(latency, 100, 0, 10)
  lhist(latency, 0, 100, 0)
  lhist(latency, 0, 100000, 10)
  lhist(latency, x, 10, 1)
  max(ustack)
  min(latency) by comm, pid, tid, cpu, arg0, arg1, arg2, arg3, retval
  count by ustack(0)
  count by comm
  count by  comm
  rc = retval
  format "{rc}"
  where ustack == 0
}

uprobe pid/1:libc:malloc {
  s = ustack(200)
  t = ustack + 1
  h = hist(arg0)
  u = ustak
  v = ustack(arg0)
  w = str(ustack)
  x = ustack(1, 2)
  y = (ustack) as u8
}

uprobe pid/1:libc:free {
  count
  sum(arg0)
  min(arg0)
  max(arg0)
  avg(arg0)
  stats(arg0)
  hist(arg0)
  lhist(arg0, 0, 10, 1)
  count by pid
}

uprobe pid/1:libc:free {
  str(arg0) by comm
  foo(arg0) by ustack
  lhist(arg0, 0, 10)
  sum(arg0) by "x"
}
`;

  test("every problem of a file at once, rendered", () => {
    const { ast, diagnostics: syntax } = parseProbeFile(MANY, "aggregates.probe");
    expect(syntax).toEqual([]);
    const { diagnostics } = checkProbeFile(ast);
    expect(diagnostics.length).toBeGreaterThanOrEqual(30);
    expectGolden("semantic/aggregates.txt", renderDiagnostics(MANY, "aggregates.probe", diagnostics));
  });
});
