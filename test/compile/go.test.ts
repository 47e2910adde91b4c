/**
 * Compiling probes on a real Go binary (test/attach/go/goapp, built here
 * with Debian's golang-go), with the host scope: what the plan says about
 * the code, and what is refused with a reason rather than planned wrong
 * (issue 12, PITFALLS 29 and 30).
 *
 * - the plan records the binary as Go with its version, and each point's ABI;
 * - `uretprobe` is one uprobe per return instruction, each at a `RET` byte (0xc3);
 * - argN beyond Go's nine amd64 registers, and any argN of an assembly
 *   (ABI0) function, is an error naming the function and its ABI;
 * - a return probe on a function that leaves by a jump (runtime.memequal's
 *   tail call), or on an offset inside a function, is refused with the
 *   decoder's reason, never half-probed; so is uprobe+ret on ABI0 code;
 * - C code (node's own libc) keeps six System V registers;
 * - `probec check --image` on the `-s -w` build calls invalid what compile refuses;
 * - an arm64 build (cross-compiled, not run) gets Go's arm64 registers and a point on every `ret`.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileOptions } from "../../src/compile/compile.js";
import { explainPlan } from "../../src/compile/explain.js";
import { checkImage } from "../../src/check/check.js";
import { renderDiagnostics } from "../../src/dsl/index.js";
import { buildGoApp, buildGoAppArm64, type GoApp } from "../attach/go/build.js";
import { tarOf, writeOciLayout } from "../support/image.js";

let app: GoApp;

beforeAll(() => {
  app = buildGoApp();
}, 120_000);

const HOST: CompileOptions = { strategy: "host" };

async function errors(source: string): Promise<string> {
  const { plan, diagnostics } = await compile(source, { ...HOST, file: "go.probe" });
  const errs = diagnostics.filter((d) => d.severity === "error");
  expect(plan).toBeUndefined();
  return renderDiagnostics(source, "go.probe", errs);
}

function byteAt(path: string, offset: number): number {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    return b[0]!;
  } finally {
    closeSync(fd);
  }
}

describe("a Go binary's plan", () => {
  it("records Go, its version and each point's ABI; uretprobe is a uprobe on every RET", async () => {
    const { plan, diagnostics } = await compile(`uretprobe host:${app.plain}:main.work { rc = retval }\n`, HOST);
    expect(diagnostics).toEqual([]);
    const entry = plan!.probes[0]!;
    expect(entry.binary.code).toEqual({ language: "go", goVersion: app.goVersion.split(" ")[2] });
    expect(entry.points.length).toBeGreaterThanOrEqual(3); // an early return, the deferreturn path, the normal return
    for (const p of entry.points) {
      expect(p).toMatchObject({
        side: "return-instruction",
        abi: "go-abiinternal",
        pairedWith: null,
        refCtrOffset: null,
        site: { kind: "symbol", name: "main.work" },
      });
      expect(byteAt(app.plain, p.fileOffset)).toBe(0xc3);
    }
    expect(new Set(entry.points.map((p) => p.fileOffset)).size).toBe(entry.points.length);
  });

  it("arg8 is Go's ninth register; arg9 is not in one, and the error says so", async () => {
    expect((await compile(`uprobe host:${app.plain}:main.work { a = arg8 }\n`, HOST)).diagnostics).toEqual([]);
    expect(await errors(`uprobe host:${app.plain}:main.work { a = arg9 }\n`)).toContain("error: `arg9` is not in a register of the matched function\n");
    expect(await errors(`uprobe host:${app.plain}:main.work { a = arg9 }\n`)).toContain("= hint: main.work (go-abiinternal) passes arg0..arg8 in registers");
  });

  it("an assembly (ABI0) function: argN is refused, and so is uprobe+ret (no goroutine register to pair by)", async () => {
    const args = await errors(`uprobe host:${app.plain}:internal/cpu.cpuid.abi0 { a = arg0 }\n`);
    expect(args).toContain("error: `arg0` is not in a register of the matched function");
    expect(args).toContain("= hint: internal/cpu.cpuid.abi0 is Go assembly (ABI0): its arguments are on the stack, not in registers");
    expect(await errors(`uprobe+ret host:${app.plain}:internal/cpu.cpuid.abi0 { latency }\n`)).toContain(
      "cannot pair the entry and return of internal/cpu.cpuid.abi0: it is a Go assembly (ABI0) function",
    );
    // Its returns alone are fine: uretprobe.
    const { plan } = await compile(`uretprobe host:${app.plain}:internal/cpu.cpuid.abi0 { pid }\n`, HOST);
    expect(plan!.probes[0]!.points.map((p) => [p.side, p.abi])).toEqual([["return-instruction", "go-abi0"]]);
  });

  it("a function that leaves by a jump, or an offset inside one, gets no return probe, and the reason", async () => {
    const tail = await errors(`uretprobe host:${app.plain}:runtime.memequal { rc = retval }\n`);
    expect(tail).toMatch(
      /cannot put a uretprobe probe on runtime\.memequal: the jump at 0x[0-9a-f]+ leaves the function for 0x[0-9a-f]+ \(a tail call or shared code\)/,
    );
    expect(tail).toContain("= hint: probec never puts a kernel return probe on a Go binary: the Go runtime crashes on it (PITFALLS 29)");
    expect(await errors(`uprobe+ret host:${app.plain}:main.work+0x10 { latency }\n`)).toContain("main.work+0x10 is inside main.work");
    // A glob leaves such functions out, whole, and says which; the others are probed.
    const glob = await compile(`uretprobe host:${app.plain}:runtime.mem* { rc = retval }\n`, { ...HOST, file: "go.probe" });
    const warnings = glob.diagnostics.filter((d) => d.severity === "warning");
    expect(glob.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^\d+ functions? the glob matches gets? no uretprobe probe/);
    expect(warnings[0]!.hints.join("\n")).toMatch(/runtime\.memequal: the jump at 0x[0-9a-f]+ leaves the function/);
    const names = new Set(glob.plan!.probes[0]!.points.map((p) => p.site.name));
    expect(names.has("runtime.memequal")).toBe(false);
    expect(names.size).toBeGreaterThan(0);
    for (const p of glob.plan!.probes[0]!.points) expect(p.side).toBe("return-instruction");
    // An entry probe at an offset is still fine.
    expect((await compile(`uprobe host:${app.plain}:main.work+0x10 { pid }\n`, HOST)).diagnostics).toEqual([]);
  });

  it("C code keeps the C ABI: six System V registers, and kernel return probes", async () => {
    const libc = `pid/${process.pid}:libc:getpid`;
    const { plan } = await compile(`uprobe+ret ${libc} { a = arg5 }\n`);
    expect(plan!.probes[0]!.points.map((p) => [p.side, p.abi])).toEqual([
      ["entry", "sysv"],
      ["return", "sysv"],
    ]);
    expect(await errors(`uprobe ${libc} { a = arg6 }\n`)).toContain("= hint: getpid (sysv) passes arg0..arg5 in registers");
  });
});

describe("--explain on a Go binary", () => {
  it("says the code is Go and gives each return instruction its own point, with its ABI", async () => {
    const { plan } = await compile(`uprobe+ret host:${app.plain}:main.work { latency }\n`, HOST);
    const text = explainPlan(plan!);
    expect(text).toContain(`  code: go (${app.goVersion.split(" ")[2]})\n`);
    const points = text.split("\n").filter((l) => l.startsWith("  point #"));
    expect(points[0]).toMatch(
      /^ {2}point #1 entry main\.work: address 0x[0-9a-f]+ → file offset 0x[0-9a-f]+ \(segment: address − 0x[0-9a-f]+\), paired with #2; abi go-abiinternal$/,
    );
    for (const line of points.slice(1)) expect(line).toMatch(/^ {2}point #\d+ return-instruction main\.work: .*, paired with #1; abi go-abiinternal$/);
  });
});

describe("probec check --image on the -s -w Go binary", () => {
  it("passes what compile accepts and calls invalid what it refuses: a tail-calling function's return probe, argN beyond Go's registers or on assembly", async () => {
    const layer = tarOf([{ name: "app/goapp", type: "file", data: readFileSync(app.stripped), mode: 0o755 }]);
    const dir = writeOciLayout(mkdtempSync(join(tmpdir(), "probec-go-image-")), [
      { architecture: "amd64", layers: [{ tar: layer, compression: "gzip" }], config: { entrypoint: ["/app/goapp"] } },
    ]);
    const spec = [
      "uprobe+ret docker/app:exe:main.work { name = gostr(arg1)  rc = retval  latency }",
      "uretprobe docker/app:exe:runtime.memequal { rc = retval }",
      "uprobe docker/app:exe:main.work { a = arg9 }",
      "uprobe docker/app:exe:internal/cpu.cpuid { a = arg0 }",
      "uretprobe docker/app:exe:runtime.mem* { rc = retval }",
    ].join("\n");
    const r = await checkImage(dir, `${spec}\n`);
    expect(r.checks.map((c) => [c.status, c.message])).toEqual([
      ["found", undefined],
      ["invalid", expect.stringMatching(/^\/app\/goapp: no uretprobe on runtime\.memequal: the jump at 0x[0-9a-f]+ leaves the function/)],
      ["invalid", "/app/goapp: the probe reads arg9, which main.work does not pass in a register"],
      ["invalid", "/app/goapp: the probe reads arg0, which internal/cpu.cpuid does not pass in a register"],
      // A glob: compile leaves runtime.memequal out with a warning and probes the others.
      ["found", undefined],
    ]);
    expect(r.checks[3]!.hints).toEqual(["internal/cpu.cpuid is Go assembly (ABI0): its arguments are on the stack"]);
  });
});

describe("an arm64 Go binary (cross-compiled, not run)", () => {
  it("plans Go's arm64 registers (arg0..arg11 of R0-R15) and a uprobe on every `ret` word", async () => {
    const arm64 = buildGoAppArm64();
    const { plan, diagnostics } = await compile(`uprobe+ret host:${arm64}:main.work { a = arg11  latency }\n`, HOST);
    expect(diagnostics).toEqual([]);
    const entry = plan!.probes[0]!;
    expect(entry.binary.code?.language).toBe("go");
    expect(entry.points[0]).toMatchObject({ side: "entry", abi: "go-abiinternal" });
    const returns = entry.points.slice(1);
    expect(returns.length).toBeGreaterThanOrEqual(3);
    for (const p of returns) {
      expect(p).toMatchObject({ side: "return-instruction", abi: "go-abiinternal", pairedWith: entry.points[0]!.cookie });
      // RET (X30): d65f03c0, little-endian.
      expect([0, 1, 2, 3].map((i) => byteAt(arm64, p.fileOffset + i))).toEqual([0xc0, 0x03, 0x5f, 0xd6]);
    }
    expect(await errors(`uprobe host:${arm64}:main.work { a = arg12 }\n`)).toContain("is beyond the 12 arguments a uprobe can read");
  });
});
