/**
 * Go function names as Go prints them (issue 12): a package path with `/`,
 * a method's receiver in parentheses, a closure's `.funcN`. They are
 * written bare as a target's LOCATION, and `gostr(argN)` reads a Go
 * string from two argument slots.
 */
import { describe, expect, it } from "vitest";
import { argUses, checkProbeFile, parseProbeFile, renderDiagnostics } from "../../src/dsl/index.js";

function check(source: string) {
  const parsed = parseProbeFile(source, "go.probe");
  const checked = checkProbeFile(parsed.ast);
  return { parsed, checked, rendered: renderDiagnostics(source, "go.probe", [...parsed.diagnostics, ...checked.diagnostics]) };
}

describe("Go names in targets", () => {
  it.each(["net/http.(*Server).Serve", "main.(*Counter).Add", "main.round.func1", "main.Map[...].Get"])("%s is a LOCATION as written", (name) => {
    const { parsed, rendered } = check(`uprobe pid/1:exe:${name} { pid }\n`);
    expect(rendered).toBe("");
    expect(parsed.ast.items).toMatchObject([{ targets: [{ scope: "pid/1", object: "exe", location: name }] }]);
  });
});

describe("gostr(argN[, maxlen])", () => {
  it("is a string field that reads argN and argN+1", () => {
    const { checked, rendered } = check("uprobe+ret pid/1:exe:main.work { name = gostr(arg1)  short = gostr(arg1, 5) }\n");
    expect(rendered).toBe("");
    const probe = checked.probes[0]!;
    expect(probe.fields.map((f) => [f.name, f.type])).toEqual([
      ["name", "string"],
      ["short", "string"],
    ]);
    expect(argUses(probe).map((u) => u.index)).toEqual([1, 2, 1, 2]);
  });

  it("refuses what is not argN, a length that is not a literal, and a length slot beyond the registers", () => {
    const { rendered } = check("uprobe pid/1:exe:main.work { a = gostr(arg0 + 1)  b = gostr(arg0, n)  c = gostr(arg11)  d = gostr(arg1, 1, 2) }\n");
    expect(rendered).toContain("error: `gostr` reads a Go string from two argument slots; its argument must be `argN`");
    expect(rendered).toContain("error: the length of `gostr` must be an integer literal");
    expect(rendered).toContain("error: `gostr(arg11)` needs its length in arg12, beyond the 12 arguments a uprobe can read");
    expect(rendered).toContain("error: `gostr` takes 1 or 2 arguments, not 3");
  });

  it("is not available in a uretprobe, like argN", () => {
    expect(check("uretprobe pid/1:exe:main.work { s = gostr(arg1) }\n").rendered).toContain("error: `arg1` is not available in a uretprobe");
  });
});
