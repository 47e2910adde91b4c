/**
 * Bad input and bugs are told apart (docs/style.md, "InternalError"): a
 * `ProbecError` about the input is one line and exit 2; an `InternalError`
 * or any other exception is a bug in probec, exit 3, with a request to
 * report it and the versions (probec, Node, kernel) a maintainer needs.
 * compile() lets an `InternalError` through instead of turning it into a
 * diagnostic at a target, and its impossible states are `InternalError`s.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reportError, runtimeVersions } from "../src/cli/report.js";
import { EventQueue } from "../src/attach/event-queue.js";
import { StringSink } from "../src/cli/io.js";
import { compile, programOf } from "../src/compile/compile.js";
import { checkProbeFile, parseProbeFile } from "../src/dsl/index.js";
import { InternalError, NotFoundError, ProbecError, UsageError } from "../src/errors.js";
import * as header from "../src/elf/header.js";
import { InternalError as PublicInternalError } from "../src/index.js";
import { VERSION } from "../src/version.js";

const FIXED = { probec: "9.9.9", node: "v20.0.0", kernel: "6.1.0-test" };

function report(error: unknown, env: Record<string, string> = {}): { code: number; stderr: string } {
  const stderr = new StringSink();
  const code = reportError(error, { stdout: new StringSink(), stderr }, env, FIXED);
  return { code, stderr: stderr.text };
}

describe("reportError", () => {
  it("reports an InternalError as a bug: exit 3, a report request and the versions", () => {
    const r = report(new InternalError("a checked expression holds a string literal"));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      "probec: internal error: a checked expression holds a string literal\n" +
        "  this is a bug in probec; please report it with the command you ran and these versions:\n" +
        "  probec 9.9.9, node v20.0.0, kernel 6.1.0-test\n" +
        "  (set PROBEC_DEBUG=1 to print the stack trace)\n",
    );
  });

  it("reports any other exception the same way, with the stack under PROBEC_DEBUG", () => {
    const error = new TypeError("x is undefined");
    const r = report(error, { PROBEC_DEBUG: "1" });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("probec: internal error: x is undefined\n  this is a bug in probec; please report it");
    expect(r.stderr).toContain(error.stack!);
  });

  it("reports bad input as the input's problem: exit 2, hints, no report request", () => {
    const r = report(new UsageError('unknown command "lsit"', ['did you mean "list"?']));
    expect(r).toEqual({ code: 2, stderr: 'probec: unknown command "lsit"\n  hint: did you mean "list"?\n' });
  });

  it("takes the versions from this run: probec's, Node's and the kernel's (uname -r)", () => {
    expect(runtimeVersions()).toEqual({ probec: VERSION, node: process.version, kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim() });
  });

  it("InternalError has the stable code E_INTERNAL and is exported by the public API", () => {
    const error = new InternalError("impossible", { cause: new Error("inner") });
    expect(error).toBeInstanceOf(ProbecError);
    expect(error.code).toBe("E_INTERNAL");
    expect(error.name).toBe("InternalError");
    expect((error.cause as Error).message).toBe("inner");
    expect(PublicInternalError).toBe(InternalError);
  });
});

describe("compile() and impossible states", () => {
  const checked = (source: string) => {
    const parsed = parseProbeFile(source, "t.probe");
    const result = checkProbeFile(parsed.ast!);
    expect(result.diagnostics).toEqual([]);
    return result.probes[0]!;
  };

  it("an expression the semantic pass would have rejected is an InternalError, not a bare Error", () => {
    const probe = checked("uprobe pid/1:libc:malloc {\n  size = arg0\n}\n");
    const field = probe.fields[0]!;
    const bad = { ...probe, fields: [{ ...field, value: { type: "String", value: "x", loc: field.value.loc } }] } as unknown as typeof probe;
    expect(() => programOf(bad)).toThrow(InternalError);
    expect(() => programOf(bad)).toThrow(/^string literal in a checked expression at 2:/);
  });

  it("a bug in the resolver leaves compile() as an InternalError; a missing target stays a diagnostic", async () => {
    const source = "uprobe pid/1:libc:malloc {\n  size = arg0\n}\n";
    await expect(compile(source, { resolve: () => Promise.reject(new InternalError("resolver state")) })).rejects.toThrow(InternalError);
    const result = await compile(source, { resolve: () => Promise.reject(new NotFoundError("pid/1: no such process")) });
    expect(result.plan).toBeUndefined();
    expect(result.diagnostics.map((d) => d.message)).toEqual(["pid/1: no such process"]);
  });
});

describe("typed errors everywhere", () => {
  it("src/ throws or rejects with no bare Error: bad input is a ProbecError, an impossible state an InternalError", () => {
    const bare: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
          readFileSync(path, "utf8")
            .split("\n")
            .forEach((line, i) => {
              if (/\b(?:throw|reject\()\s*new (?:Error|TypeError|RangeError|SyntaxError)\(/.test(line)) bare.push(`${path}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(join(import.meta.dirname, "../src"));
    expect(bare).toEqual([]);
  });

  it("a second concurrent next() on an attachment's events is a UsageError that says how to iterate", async () => {
    const queue = new EventQueue({ pause: () => undefined, resume: () => undefined });
    const first = queue.next();
    await expect(queue.next()).rejects.toThrow(UsageError);
    await expect(queue.next()).rejects.toThrow(/next\(\) called again before the previous call settled/);
    queue.end();
    await expect(first).resolves.toEqual({ value: undefined, done: true });
  });
});

describe("src/elf/header.ts", () => {
  it("no longer exports isNotElf, which matched on message text (callers use the FormatError's code)", () => {
    expect(Object.keys(header)).not.toContain("isNotElf");
  });
});
