/**
 * The examples (examples/*.probe: the five scenarios of issue 4 and
 * python-calls of issue 10) parse without a diagnostic
 * to the ASTs in test/dsl/golden/ast/, and their targets split exactly as
 * the CLI's target-spec parser splits them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { parseProbeFile, renderDiagnostics, type Target } from "../../src/dsl/index.js";
import { parseTargetSpec } from "../../src/dsl/target-spec.js";
import { expectGolden } from "./golden.js";

const EXAMPLES = readdirSync("examples")
  .filter((f) => f.endsWith(".probe"))
  .sort();

function targetsOf(ast: ReturnType<typeof parseProbeFile>["ast"]): Target[] {
  return ast.items.flatMap((item) => (item.type === "Probe" ? item.targets : item.type === "Let" ? [item.target] : []));
}

describe("examples/*.probe", () => {
  test("there are the five scenarios of issue 4 and python-calls of issue 10", () => {
    expect(EXAMPLES).toHaveLength(6);
  });

  test.each(EXAMPLES)("%s parses to its AST golden", (name) => {
    const source = readFileSync(`examples/${name}`, "utf8");
    const { ast, diagnostics } = parseProbeFile(source, `examples/${name}`);
    expect(renderDiagnostics(source, `examples/${name}`, diagnostics)).toBe("");
    expectGolden(`ast/${name.replace(/\.probe$/, ".json")}`, JSON.stringify(ast, null, 2) + "\n");
  });

  test.each(EXAMPLES)("%s: targets agree with parseTargetSpec", (name) => {
    const { ast } = parseProbeFile(readFileSync(`examples/${name}`, "utf8"), name);
    const targets = targetsOf(ast);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) {
      const spec = parseTargetSpec(t.text);
      expect({ object: t.object, location: t.location }).toEqual({ object: spec.object, location: spec.location });
    }
  });
});
