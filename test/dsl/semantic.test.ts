/**
 * The semantic passes: the five examples are clean and expand as expected;
 * a file with many problems reports all of them at once, rendered in full
 * (golden: test/dsl/golden/semantic/).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { checkProbeFile, parseProbeFile, renderDiagnostics } from "../../src/dsl/index.js";
import { expectGolden } from "./golden.js";

const EXAMPLES = readdirSync("examples")
  .filter((f) => f.endsWith(".probe"))
  .sort();

function check(source: string, file = "test.probe") {
  const parsed = parseProbeFile(source, file);
  expect(renderDiagnostics(source, file, parsed.diagnostics)).toBe("");
  const result = checkProbeFile(parsed.ast);
  return { ...result, rendered: renderDiagnostics(source, file, result.diagnostics) };
}

describe("examples/*.probe", () => {
  test.each(EXAMPLES)("%s has no semantic diagnostics", (name) => {
    const { rendered, probes } = check(readFileSync(`examples/${name}`, "utf8"), `examples/${name}`);
    expect(rendered).toBe("");
    expect(probes.length).toBeGreaterThan(0);
  });

  test("aliases expand and options settle", () => {
    const zk = check(readFileSync("examples/zookeeper-zoo-set2.probe", "utf8"));
    expect(zk.probes[0]?.targets.map((t) => t.text)).toEqual(["docker/zookeeper:libzookeeper_mt:zoo_set2"]);
    expect(zk.probes[0]?.targets[0]?.loc.start).toMatchObject({ line: 8, column: 11 });
    const pg = check(readFileSync("examples/postgres-queries.probe", "utf8"));
    expect(pg.probes.map((p) => [p.options.strategy, p.options.strlen])).toEqual([
      ["fd", 256],
      ["fd", 256],
    ]);
    const malloc = check(readFileSync("examples/malloc-count.probe", "utf8"));
    expect(malloc.probes[0]?.options.strategy).toBe("root");
    expect(malloc.probes[0]?.aggregates.map((a) => [a.fn, a.text, a.by.length])).toEqual([["count", "count by comm", 1]]);
    const gai = check(readFileSync("examples/getaddrinfo-failures.probe", "utf8"));
    expect(gai.probes[0]?.fields.map((f) => [f.name, f.type])).toEqual([
      ["host", "string"],
      ["rc", "int"],
      ["latency", "int"],
      ["container", "string"],
    ]);
  });

  test("a whole-target alias", () => {
    const { probes, rendered } = check("let m = pid/1:libc:malloc\nuprobe m, docker/x:libc:free {\n  pid\n}\n");
    expect(rendered).toBe("");
    expect(probes[0]?.targets.map((t) => t.text)).toEqual(["pid/1:libc:malloc", "docker/x:libc:free"]);
    expect(probes[0]?.id).toBe("probe1");
  });
});

const MANY = `option strategy = lyer
option strln = 64
option strlen = 100000

let zk = docker/zookeeper
let zk = docker/other

uretprobe zq:libzookeeper_mt:zoo_set2 {
  rc = retval
  a = arg0
  format "rc={rc} {rcc}"
}

uprobe docker/web:libc:malloc {
  n = arg12
  r = retval
  l = latency
  n = pid
  x = str(arg0, 0)
  y = pdi
  where comm == 3
}

usdt docker/pg:postgres:query__start {
  count by pid
  tid
}

uprobe+ret docker/web:libc:getaddrinfo {
  latency
  format "{latency} {host}"
}
`;

test("every problem of a file at once, rendered", () => {
  const { rendered, diagnostics } = check(MANY, "many.probe");
  expect(diagnostics.length).toBeGreaterThanOrEqual(14);
  expectGolden("semantic/many.txt", rendered);
});
