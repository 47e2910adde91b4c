/**
 * src/metrics/ and prom-client are loaded only for `--metrics`: a real
 * `probec trace` session without the option never imports prom-client,
 * the same session with it does. prom-client is wrapped (vi.mock over the
 * real module, not a stand-in) only to see when it is imported; the
 * bundle keeps the same shape, since esbuild evaluates a dynamically
 * imported module only when the import runs.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { probec } from "../support/cli.js";

const imports = vi.hoisted(() => ({ promClient: 0 }));
vi.mock("prom-client", async (importOriginal) => {
  imports.promClient++;
  return importOriginal();
});

let dir: string;
let target: ChildProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "probec-metrics-lazy-"));
  writeFileSync(
    join(dir, "tick.c"),
    `#include <unistd.h>\n__attribute__((noinline, used)) long tick(long n) { __asm__ volatile("" ::: "memory"); return n; }\nint main(void) { for (long n = 0;; n++) { tick(n); usleep(10000); } }\n`,
  );
  execFileSync("gcc", ["-O1", "-o", join(dir, "tick"), join(dir, "tick.c")]);
  target = spawn(join(dir, "tick"), [], { stdio: "ignore" });
});

afterAll(async () => {
  const exited = once(target, "exit");
  target.kill("SIGKILL");
  await exited;
  rmSync(dir, { recursive: true, force: true });
});

it("a session without --metrics never imports prom-client; with it, it does", async () => {
  const probe = `uprobe pid/${target.pid}:exe:tick { n = arg0 }`;
  const without = await probec("trace", probe, "--count", "3");
  expect(without.code, without.stderr).toBe(0);
  expect(without.stdout.trim().split("\n")).toHaveLength(4); // the header and 3 events
  expect(imports.promClient).toBe(0);

  const withMetrics = await probec("trace", probe, "--count", "3", "--metrics", "127.0.0.1:0");
  expect(withMetrics.code, withMetrics.stderr).toBe(0);
  expect(withMetrics.stderr).toMatch(/^probec: metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
  expect(imports.promClient).toBe(1);
});
