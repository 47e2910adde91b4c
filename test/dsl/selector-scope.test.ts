// Selector scopes in target specs and probe headers (issue 14): which segments are selectors, the quoting, and the errors.
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import { parseProbeFile } from "../../src/dsl/parse.js";
import { parseTargetSpec, splitTarget } from "../../src/dsl/target-spec.js";
import { UsageError } from "../../src/errors.js";

function scopeOf(text: string): unknown {
  const s = parseTargetSpec(text).scope;
  return s.kind === "select" ? { ...s, selector: s.selector?.text } : s;
}

describe("selector scopes", () => {
  it.each([
    [
      "docker/app=web:exe:main",
      { kind: "select", runtime: "docker", text: "docker/app=web", namespace: undefined, selector: "app=web", pod: undefined, containers: undefined },
    ],
    [
      "docker/*:libc:malloc",
      { kind: "select", runtime: "docker", text: "docker/*", namespace: undefined, selector: undefined, pod: undefined, containers: undefined },
    ],
    [
      "docker/com.docker.compose.service=web",
      {
        kind: "select",
        runtime: "docker",
        text: "docker/com.docker.compose.service=web",
        namespace: undefined,
        selector: "com.docker.compose.service=web",
        pod: undefined,
        containers: undefined,
      },
    ],
    [
      'podman/"canary":exe',
      { kind: "select", runtime: "podman", text: 'podman/"canary"', namespace: undefined, selector: "canary", pod: undefined, containers: undefined },
    ],
    [
      "containerd/k8s.io/app!=db",
      {
        kind: "select",
        runtime: "containerd",
        text: "containerd/k8s.io/app!=db",
        namespace: "k8s.io",
        selector: "app!=db",
        pod: undefined,
        containers: undefined,
      },
    ],
    [
      "containerd/!canary",
      { kind: "select", runtime: "containerd", text: "containerd/!canary", namespace: undefined, selector: "!canary", pod: undefined, containers: undefined },
    ],
    [
      'k8s/shop/"tier in (api,worker)"/nginx:exe:main',
      {
        kind: "select",
        runtime: "k8s",
        text: 'k8s/shop/"tier in (api,worker)"/nginx',
        namespace: "shop",
        selector: "tier in (api,worker)",
        pod: undefined,
        containers: ["nginx"],
      },
    ],
    [
      'k8s/*/app=web/"app,sidecar"',
      {
        kind: "select",
        runtime: "k8s",
        text: 'k8s/*/app=web/"app,sidecar"',
        namespace: undefined,
        selector: "app=web",
        pod: undefined,
        containers: ["app", "sidecar"],
      },
    ],
    [
      "k8s/*/web-7d4b9",
      { kind: "select", runtime: "k8s", text: "k8s/*/web-7d4b9", namespace: undefined, selector: undefined, pod: "web-7d4b9", containers: undefined },
    ],
  ])("%s", (text, scope) => {
    expect(scopeOf(text)).toEqual(scope);
  });

  it("keeps plain names as names", () => {
    expect(scopeOf("docker/web:libc")).toEqual({ kind: "docker", ref: "web" });
    expect(scopeOf("k8s/shop/web-7d4b9/nginx")).toEqual({ kind: "k8s", namespace: "shop", pod: "web-7d4b9", container: "nginx" });
    expect(scopeOf("containerd/k8s.io/abc")).toEqual({ kind: "containerd", namespace: "k8s.io", id: "abc" });
  });

  it("cuts at the first ':' outside a quoted segment", () => {
    expect(splitTarget('docker/"a in (x:y)":exe:main')).toEqual({ scope: 'docker/"a in (x:y)"', object: "exe", location: "main" });
    expect(splitTarget('docker/"app in (a, b)":libc:malloc')).toEqual({ scope: 'docker/"app in (a, b)"', object: "libc", location: "malloc" });
    expect(splitTarget('docker/"app=web:libc')).toBe("a quoted scope segment has no closing '\"'");
  });

  it.each([
    ["docker/app=web,:libc", /label selector "app=web,", column 9: a ',' must be followed by a requirement/],
    ['docker/"tier in (api":libc', /label selector "tier in \(api", column 13: expected "," or "\)"/],
    ["docker/app=web=x:libc", /^label selector "app=web=x", column 8: expected "," or the end, found "="/],
    ['docker/"a"b:libc', /after the quoted segment "a", expected '\/' or the end, not "b"/],
    ["k8s/app=web/x", /the namespace "app=web" is a name or \*, not a selector/],
    ["k8s/shop/app=web/a,,b", /the container list "a,,b" has an empty name/],
    ['crio/"x":exe', /crio scopes take no quoted part/],
  ])("rejects %s with one line", (text, message) => {
    let error: unknown;
    try {
      parseTargetSpec(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(message);
    expect((error as UsageError).message).not.toContain("\n");
  });

  it("parses quoted selectors in a probe header, beside other targets", () => {
    const source = 'uprobe k8s/shop/"tier in (api,worker)"/nginx:exe:main, docker/app=web:libc:malloc {\n  pid\n}\n';
    const { ast, diagnostics } = parseProbeFile(source, "sel.probe");
    expect(diagnostics).toEqual([]);
    const probe = ast.items.find((i) => i.type === "Probe");
    expect(probe?.type === "Probe" ? probe.targets.map((t) => t.scope) : []).toEqual(['k8s/shop/"tier in (api,worker)"/nginx', "docker/app=web"]);
  });

  it("a malformed selector in a probe file is one diagnostic at the target, naming the selector and column", async () => {
    const source = 'uprobe docker/"app=web,":libc:malloc {\n  pid\n}\n';
    const { diagnostics } = await compile(source, { file: "bad.probe", docker: { host: "unix:///run/probec-no-such-docker.sock" } });
    expect(diagnostics.map((d) => [d.severity, d.message, d.location.start.line, d.location.start.column])).toEqual([
      ["error", "label selector \"app=web,\", column 9: a ',' must be followed by a requirement", 1, 8],
    ]);
  });
});
