/** Parser unit tests: target forms, expression precedence, locations. */
import { describe, expect, test } from "vitest";
import { parseProbeFile, renderDiagnostics, type Expression, type Probe } from "../../src/dsl/index.js";
import { parseTargetSpec } from "../../src/dsl/target-spec.js";

function parseOk(source: string) {
  const { ast, diagnostics } = parseProbeFile(source, "t.probe");
  expect(renderDiagnostics(source, "t.probe", diagnostics)).toBe("");
  return ast;
}

function firstProbe(source: string): Probe {
  const item = parseOk(source).items.find((i) => i.type === "Probe");
  if (item?.type !== "Probe") throw new Error("no probe");
  return item;
}

/** An expression as a fully parenthesised string, to check precedence. */
function show(e: Expression): string {
  switch (e.type) {
    case "Binary":
      return `(${show(e.left)} ${e.operator} ${show(e.right)})`;
    case "Unary":
      return `(${e.operator}${show(e.operand)})`;
    case "Cast":
      return `(${show(e.expression)} as ${e.to})`;
    case "Call":
      return `${e.callee.name}(${e.args.map(show).join(", ")})`;
    case "Identifier":
      return e.name;
    case "Integer":
      return e.value;
    case "String":
      return JSON.stringify(e.value);
  }
}

function where(condition: string): string {
  const probe = firstProbe(`uprobe host:libc:malloc { where ${condition} }`);
  const w = probe.body[0];
  if (w?.type !== "Where") throw new Error("no where");
  return show(w.condition);
}

describe("targets", () => {
  const forms = [
    "docker/zookeeper:libzookeeper_mt:zoo_set2",
    "pid/1234:libc:malloc",
    "pid/1234:libc:malloc@@GLIBC_2.2.5",
    "docker/web:libc:getaddrinfo",
    "docker/pg:postgres:postgresql:query__*",
    "k8s/default/web-7d4b9/nginx:exe:ngx_http_*",
    "host:/usr/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo",
    "containerd/k8s.io/abc123:libssl.so.3:SSL_write",
    "podman/db:exe:main+0x10",
    "host:exe:0x401000",
    "web:libc:str[ln]cpy",
    "web:libc",
    "docker/web",
    // Issue 10: quoted objects (names holding ':') and object globs.
    'pid/42:"/memfd:libstapsdt:salp-demo":salp-demo:p1',
    'pid/42:"memfd:libstapsdt:*":salp-demo:p1',
    'pid/42:"/tmp/salp-demo-*.so":salp-demo:p1',
    "pid/42:/tmp/salp-demo-*.so:salp-demo:p1",
    'web:"/opt/my app/lib x.so":f',
  ];
  test.each(forms)("%s splits like parseTargetSpec", (text) => {
    const [target] = firstProbe(`uprobe ${text} { pid }`).targets;
    const spec = parseTargetSpec(text);
    expect(target).toMatchObject({ text, object: spec.object, location: spec.location });
    expect(target?.scope).toBe(text.split(":")[0]);
  });

  test("several targets per probe, aliases by name", () => {
    const ast = parseOk("let zk = docker/zookeeper\nuprobe zk:libzookeeper_mt:zoo_set2, zk:libzookeeper_mt:zoo_get { pid }\n");
    const probe = ast.items[1];
    expect(probe?.type === "Probe" && probe.targets.map((t) => t.text)).toEqual(["zk:libzookeeper_mt:zoo_set2", "zk:libzookeeper_mt:zoo_get"]);
  });

  test("a quoted object keeps its colons and loses its quotes; an unclosed quote is a syntax error", () => {
    const [target] = firstProbe('usdt pid/42:"/memfd:libstapsdt:salp-demo":salp-demo:p1 { pid }').targets;
    expect(target).toMatchObject({ scope: "pid/42", object: "/memfd:libstapsdt:salp-demo", location: "salp-demo:p1" });
    const source = 'usdt pid/42:"/memfd:libstapsdt:salp-demo:salp-demo:p1 { pid }\n';
    expect(parseProbeFile(source, "t.probe").diagnostics.map((d) => d.severity)).toContain("error");
  });

  test("probe kinds", () => {
    for (const kind of ["uprobe", "uretprobe", "uprobe+ret", "usdt"] as const) {
      expect(firstProbe(`${kind} host:libc:malloc { pid }`).kind).toBe(kind);
    }
  });
});

describe("expressions", () => {
  test("arithmetic binds tighter than comparison, comparison tighter than && and ||", () => {
    expect(where("arg1 % 2 == 0 && pid != 1 || !(cpu < 4)")).toBe("((((arg1 % 2) == 0) && (pid != 1)) || (!(cpu < 4)))");
  });
  test("& binds tighter than == (Rust's order, not C's)", () => {
    expect(where("arg0 & 0xff == 0x10")).toBe("((arg0 & 255) == 16)");
  });
  test("casts, calls, unary minus, shifts", () => {
    expect(where("arg1 as i32 < -1 << 2 + 1")).toBe("((arg1 as i32) < ((-1) << (2 + 1)))");
    expect(where('str(arg0, 64) == "localhost"')).toBe('(str(arg0, 64) == "localhost")');
  });
  test("left associative", () => {
    expect(where("a - b - c == a / b * c")).toBe("(((a - b) - c) == ((a / b) * c))");
  });
});

describe("locations", () => {
  test("every node carries line, column and offset", () => {
    const source = "# c\nuprobe host:libc:malloc {\n  size = arg0 as u64\n}\n";
    const probe = firstProbe(source);
    expect(probe.loc).toEqual({ start: { offset: 4, line: 2, column: 1 }, end: { offset: 52, line: 4, column: 2 } });
    const field = probe.body[0];
    expect(field?.type === "Field" && field.value.loc).toEqual({
      start: { offset: 39, line: 3, column: 10 },
      end: { offset: 50, line: 3, column: 21 },
    });
    expect(source.slice(39, 50)).toBe("arg0 as u64");
  });
});
