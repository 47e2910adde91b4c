/**
 * The public API is a deliberate set: the main entry's runtime exports are
 * exactly the list below (a change to it is a change to this test, on
 * purpose), internals such as `hex`, `nearest` or Docker-only lookups under
 * generic names are not in it, and every subpath package.json exports
 * resolves to a module with the advanced parts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as discovery from "../src/discovery/index.js";
import * as elf from "../src/elf/index.js";
import * as api from "../src/index.js";
import * as plan from "../src/plan/index.js";

describe("probec (the main entry)", () => {
  it("exports exactly the documented set", () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        "AggregateTotals",
        "AmbiguousError",
        "AttachError",
        "ElfFile",
        "FormatError",
        "IfuncError",
        "InternalError",
        "IoError",
        "LimitError",
        "NotFoundError",
        "PLAN_LIMITS",
        "PLAN_VERSION",
        "ProbecError",
        "UsageError",
        "attach",
        "checkAttachPlan",
        "checkImage",
        "checkProbeFile",
        "checkResultToJunit",
        "compile",
        "explainPlan",
        "findSymbol",
        "findUsdt",
        "follow",
        "listRunningContainers",
        "listSymbols",
        "loadDebugFiles",
        "openElf",
        "parseProbeFile",
        "parseTargetSpec",
        "renderDiagnostics",
        "resolveScope",
        "resolveTarget",
        "symbolToJson",
        "usdtArgToJson",
        "usdtSiteToJson",
      ].sort(),
    );
  });

  it("documents every export in src/index.ts with a JSDoc line", () => {
    const source = readFileSync(new URL("../src/index.ts", import.meta.url), "utf8");
    const statements = source.split("\n").filter((line) => line.startsWith("export "));
    const documented = source.split("\n").filter((line, i, lines) => line.startsWith("export ") && (lines[i - 1] ?? "").trimEnd().endsWith("*/"));
    expect(documented).toEqual(statements);
  });
});

describe("subpath entries", () => {
  const exports = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { exports: Record<string, unknown> }).exports;

  it("package.json names ./elf, ./plan and ./discovery", () => {
    expect(Object.keys(exports)).toEqual(expect.arrayContaining(["./elf", "./plan", "./discovery"]));
  });

  it("probec/plan has the contract and its closed sets", () => {
    expect(plan.PLAN_VERSION).toBe(api.PLAN_VERSION);
    expect(plan.CAPTURE_NAMES).toContain("latency");
    expect(plan.PATH_STRATEGY_NAMES).toEqual(["fd", "root", "layer", "map", "host"]);
    expect(plan.PROBE_KINDS).toEqual(["uprobe", "uretprobe", "uprobe+ret", "usdt"]);
  });

  it("probec/discovery has the runtime registry and the Docker-only lookups under names that say so", () => {
    expect(discovery.containerRuntimes().map((r) => r.name)).toEqual(["docker", "podman", "containerd", "crio"]);
    expect(typeof discovery.findDockerContainer).toBe("function");
    expect(typeof discovery.listDockerContainers).toBe("function");
    expect(typeof discovery.scopeNamespaces).toBe("function");
  });

  it("probec/elf keeps hex and the byte sources", () => {
    expect(elf.hex(255n)).toBe("0xff");
    expect(typeof elf.BufferSource).toBe("function");
  });
});
