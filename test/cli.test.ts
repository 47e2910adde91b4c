/**
 * `probec` as a user meets it: exit codes, one-line errors that name the
 * input, no stack traces, and the built executable itself.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { VERSION } from "../src/version.js";
import { probec } from "./support/cli.js";

const bin = (name: string): string => `fixtures/elf/bin/${name}`;

describe("probec list: exit codes", () => {
  it("exits 0 and prints a table when probes match", async () => {
    const r = await probec("list", bin("usdt_persite"));
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("PROBE         ADDRESS  OFFSET  SEM.OFFSET  ARGUMENTS");
    expect(r.stdout.match(/persite:fire/g)).toHaveLength(2);
    expect(r.stderr).toBe("");
  });

  it("exits 1 when nothing matches, naming the probes that exist", async () => {
    const r = await probec("list", bin("usdt_sema"), "sema:nope");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `probec: no USDT probe in ${bin("usdt_sema")} matches "sema:nope"\n  hint: probes that exist: sema:enabled, sema:other, sema:plain\n`,
    );
  });

  it("exits 1 for a file without probes, pointing at --functions", async () => {
    const r = await probec("list", bin("libver.so"));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`probec: ${bin("libver.so")} has no USDT probes\n  hint: list its functions instead: probec list ${bin("libver.so")} --functions\n`);
  });

  it("exits 1 with --functions when no function matches", async () => {
    const r = await probec("list", bin("libver.so"), "nothing*", "--functions");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`probec: no function in ${bin("libver.so")} matches "nothing*"\n`);
  });

  it("prints [] and exits 1 for --json with no match", async () => {
    const r = await probec("list", bin("usdt_sema"), "zzz:*", "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

describe("probec list: bad input is one clear line and exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["a missing file", ["list", "fixtures/elf/bin/no-such-file"], /^probec: fixtures\/elf\/bin\/no-such-file: no such file\n  hint: /],
    ["a directory", ["list", "fixtures/elf/bin"], /^probec: fixtures\/elf\/bin: is a directory, not an ELF file\n  hint: name a file inside it\n$/],
    [
      "a text file",
      ["list", bin("corrupt/text_file")],
      /^probec: fixtures\/elf\/bin\/corrupt\/text_file: not an ELF file \(it does not start with \\x7fELF\)\n$/,
    ],
    ["an empty file", ["list", bin("corrupt/empty")], /^probec: fixtures\/elf\/bin\/corrupt\/empty: not an ELF file \(the file is empty\)\n$/],
    [
      "a truncated header",
      ["list", bin("corrupt/trunc_ehdr")],
      /^probec: fixtures\/elf\/bin\/corrupt\/trunc_ehdr: ELF header is truncated: the file has only 40 bytes\n$/,
    ],
    ["an unclosed glob", ["list", bin("usdt_sema"), "sema:[abc"], /^probec: pattern "\[abc": "\[" at position 1 is never closed\n  hint: /],
    ["an unknown command", ["lsit", "x"], /^probec: unknown command "lsit"\n  hint: did you mean "list"\?\n$/],
    ["an unknown option", ["list", bin("usdt_sema"), "--frobnicate"], /^probec: Unknown argument: frobnicate\n  hint: run probec --help/],
    ["no command", [], /^probec: name a command: probec list FILE \[PATTERN\]\n/],
  ];
  for (const [what, argv, expected] of cases) {
    it(`reports ${what}`, async () => {
      const r = await probec(...argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(expected);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("reports an unreadable file as a permission problem (as a non-root user)", () => {
    // Root reads everything, so run the built CLI as `nobody` against a 0600 file.
    const result = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "dist/src/cli/main.js", "list", "/etc/shadow"], {
      encoding: "utf8",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe("probec: /etc/shadow: permission denied\n  hint: run as root, or as a user that can read the file\n");
  });
});

describe("probec as an executable", () => {
  it("prints --version from package.json", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
    expect(execFileSync(process.execPath, ["dist/src/cli/main.js", "--version"], { encoding: "utf8" })).toBe(`${pkg.version}\n`);
  });

  it("prints help naming the list command", async () => {
    const r = await probec("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("probec list <target> [pattern]");
  });

  it("help rows are whole: every command's description on its line, never cut mid-word", async () => {
    const r = await probec("--help");
    for (const command of ["list <target> [pattern]", "resolve [scope]", "compile <file>", "check <specs..>", "run <file>", "trace <probe>"]) {
      expect(r.stdout).toMatch(new RegExp(`^  probec ${command.replace(/[[\].]/g, "\\$&")} +\\S.*\\S$`, "m"));
    }
    const check = await probec("check", "--help");
    expect(check.stdout).toContain("probec check --image app.tar probes/app.probe --junit probes.xml  fail the CI job when a probe is gone");
    // A wrapped row would continue on a line indented to its description column.
    for (const out of [r.stdout, check.stdout]) expect(out).not.toMatch(/^ {20,}\S/m);
  });

  it("runs `probec list` end to end with the real exit status", () => {
    const ok = spawnSync(process.execPath, ["dist/src/cli/main.js", "list", bin("usdt_sema"), "sema:plain"], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe("PROBE       ADDRESS  OFFSET  SEM.OFFSET  ARGUMENTS\nsema:plain   0x1154  0x1154      0x3010  -4@%edi\n");
    const none = spawnSync(process.execPath, ["dist/src/cli/main.js", "list", bin("usdt_sema"), "zzz"], { encoding: "utf8" });
    expect(none.status).toBe(1);
  });
});

describe("probec resolve", () => {
  it("shows a process's root, ids and mapped objects, as a table and as JSON", async () => {
    const child = spawn("/usr/bin/python3.11", ["-c", "import time; time.sleep(30)"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const pid = child.pid as number;
      const table = await probec("resolve", `pid/${pid}`);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(new RegExp(`^runtime   pid\\nroot      /proc/${pid}/root \\(mount namespace \\d+\\)\\n`));
      expect(table.stdout).toContain(`mapped by pid ${pid}:`);
      expect(table.stdout).toMatch(new RegExp(`/usr/bin/python3.11 +\\d+ +- +/proc/${pid}/map_files/400000-`));
      const json = JSON.parse((await probec("resolve", `pid/${pid}`, "--json")).stdout) as {
        runtime: string;
        processes: { pid: number; nsPid: number[]; comm: string }[];
        namespaces: { root: string; objects: { path: string; deleted: boolean }[] }[];
      };
      expect(json.runtime).toBe("pid");
      expect(json.processes).toEqual([expect.objectContaining({ pid, nsPid: [pid], comm: "python3.11" })]);
      expect(json.namespaces[0]?.root).toBe(`/proc/${pid}/root`);
      expect(json.namespaces[0]?.objects.map((o) => o.path)).toContain("/usr/lib/x86_64-linux-gnu/libc.so.6");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("refuses a target where a scope is expected, and a vanished process", async () => {
    expect((await probec("resolve", "pid/1:libc")).stderr).toBe(
      'probec: "pid/1:libc" is a target, not a scope\n  hint: resolve the scope alone: probec resolve pid/1\n',
    );
    const gone = await probec("resolve", "pid/4194304");
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/^probec: process 4194304 does not exist \(it may have exited\)\n/);
  });
});
