/**
 * Syntax errors, rendered whole (bpftrace's tests/parser.cpp style): each case
 * is compared with all of test/dsl/golden/errors/<name>.txt.
 */
import { describe, expect, test } from "vitest";
import { parseProbeFile, renderDiagnostics } from "../../src/dsl/index.js";
import { expectGolden } from "./golden.js";

const CASES: Record<string, string> = {
  "let-missing-equals": "let zk docker/zookeeper\n",
  "let-missing-target": "let zk =\n",
  "unknown-probe-kind": "kprobe docker/web:libc:getaddrinfo { pid }\n",
  "missing-target": "uprobe { pid }\n",
  "missing-body": "uprobe docker/web:libc:getaddrinfo\n",
  "unclosed-body": "uprobe docker/web:libc:getaddrinfo {\n  pid\n",
  "bad-target-separator": "uprobe docker/web:libc:getaddrinfo; docker/web:libc:gethostbyname { pid }\n",
  "dangling-operator": "uprobe host:libc:malloc {\n  where arg0 >\n}\n",
  "chained-comparison": "uprobe host:libc:malloc {\n  where 1 < arg0 < 10\n}\n",
  "unknown-type": "uprobe host:libc:malloc {\n  size = arg0 as int\n}\n",
  "unclosed-call": "uprobe host:libc:getenv {\n  name = str(arg0, 64\n}\n",
  "format-needs-string": "uprobe host:libc:malloc {\n  format size\n}\n",
  "option-missing-value": "option strlen =\nuprobe host:libc:malloc { pid }\n",
  "keyword-as-name": "let where = docker/web\n",
  "unterminated-string": 'uprobe host:libc:malloc {\n  format "size {size}\n}\n',
  "several-errors":
    "# three broken statements and two good ones: all three are reported\n" +
    "let zk docker/zookeeper\n" +
    "uprobe zk:libc:malloc {\n  size = arg0 +\n}\n" +
    "let web = docker/web\n" +
    "usdt docker/pg:postgres:postgresql:query__* { where arg1 < }\n" +
    "uretprobe web:libc:getaddrinfo { rc = retval }\n",
};

describe("syntax errors render whole", () => {
  test.each(Object.keys(CASES))("%s", (name) => {
    const source = CASES[name] as string;
    const { diagnostics } = parseProbeFile(source, `${name}.probe`);
    expect(diagnostics.length).toBeGreaterThan(0);
    expectGolden(`errors/${name}.txt`, renderDiagnostics(source, `${name}.probe`, diagnostics));
  });

  test("recovery keeps the statements that parsed", () => {
    const { ast, diagnostics } = parseProbeFile(CASES["several-errors"] as string, "several-errors.probe");
    expect(diagnostics).toHaveLength(3);
    expect(ast.items.map((i) => i.type)).toEqual(["Let", "Probe"]);
  });

  test("diagnostics are data", () => {
    const { diagnostics } = parseProbeFile("let zk docker/zookeeper\n", "x.probe");
    expect(diagnostics).toEqual([
      {
        severity: "error",
        message: "expected `=`, found `docker`",
        location: { start: { offset: 7, line: 1, column: 8 }, end: { offset: 13, line: 1, column: 14 } },
        hints: [],
      },
    ]);
  });
});
