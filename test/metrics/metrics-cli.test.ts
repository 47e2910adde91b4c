/**
 * `--metrics ADDR` for real: `probec trace` and `probec run` attached to a
 * C program compiled here, /metrics scraped over loopback while the session
 * runs and parsed strictly (./prom-text.ts). The program calls work(n)
 * exactly CALLS times each SIGUSR1 and prints "done N" after each batch,
 * so hits are compared with a number the program itself made. Bad
 * addresses (malformed, a port in use) exit 2 before anything is attached.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StringSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import { probec } from "../support/cli.js";
import { parsePrometheusText, sampleValue } from "./prom-text.js";

const CALLS = 37;
const CALLER = String.raw`
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t pending;
static void on_usr1(int sig) { (void)sig; pending++; }

__attribute__((noinline, used)) long work(long n) {
  __asm__ volatile("" ::: "memory");
  return n * 2;
}

__attribute__((noinline, used)) long idle(long n) {
  __asm__ volatile("" ::: "memory");
  return n;
}

int main(void) {
  long next = 0, batches = 0;
  signal(SIGUSR1, on_usr1);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    pause();
    while (pending > 0) {
      pending--;
      for (int i = 0; i < ${CALLS}; i++) work(next++);
      printf("done %ld\n", ++batches);
      fflush(stdout);
    }
  }
}
`;

let dir: string;
let caller: ChildProcess;
let pid: number;
let callerOut = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "probec-metrics-"));
  writeFileSync(join(dir, "caller.c"), CALLER);
  execFileSync("gcc", ["-O1", "-o", join(dir, "caller"), join(dir, "caller.c")]);
  caller = spawn(join(dir, "caller"), [], { stdio: ["ignore", "pipe", "inherit"] });
  caller.stdout?.on("data", (chunk: Buffer) => (callerOut += chunk.toString()));
  await until("the caller is ready", () => callerOut.includes("ready"));
  pid = caller.pid as number;
});

afterAll(async () => {
  const exited = once(caller, "exit");
  caller.kill("SIGKILL");
  await exited;
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, done: () => boolean | Promise<boolean>, log: () => unknown = () => ""): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(log())}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Makes the caller run one more batch of CALLS calls and waits until it says it did. */
async function batch(): Promise<void> {
  const batches = (callerOut.match(/^done /gm) ?? []).length;
  caller.kill("SIGUSR1");
  await until(`batch ${batches + 1}`, () => (callerOut.match(/^done /gm) ?? []).length > batches);
}

/** A CLI session running in-process until `stop()`; its metrics URL once it printed it. */
function session(...argv: string[]) {
  const stdout = new StringSink();
  const stderr = new StringSink();
  const abort = new AbortController();
  const code = run(argv, { stdout, stderr, signal: abort.signal }, {});
  return {
    stdout,
    stderr,
    code,
    async url(): Promise<string> {
      await until(
        "the metrics status line and attach",
        () => /attached \d+ point/.test(stderr.text) || /following /.test(stderr.text),
        () => stderr.text,
      );
      const url = /probec: metrics at (http:\/\/\S+)/.exec(stderr.text)?.[1];
      if (url === undefined) throw new Error(`no metrics line: ${stderr.text}`);
      return url;
    },
    async stop(): Promise<number> {
      abort.abort();
      return code;
    },
  };
}

async function scrape(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheusText(await response.text());
}

describe("--metrics on a real session", () => {
  it("probec trace: probec_hits_total is exactly the calls the program made, lost 0, while it runs; the endpoint closes with the session", async () => {
    const s = session("trace", `uprobe pid/${pid}:exe:work { n = arg0 }`, "--metrics", "127.0.0.1:0", "--json");
    const url = await s.url();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    let families = await scrape(url);
    expect(families.get("probec_hits_total")?.type).toBe("counter");
    expect(sampleValue(families, "probec_hits_total", { probe: "probe1" })).toBe(0);
    expect(sampleValue(families, "probec_lost_total", { probe: "probe1" })).toBe(0);
    // Node's process metrics come along.
    expect(families.get("process_cpu_seconds_total")?.type).toBe("counter");

    await batch();
    await until(`${CALLS} hits`, async () => sampleValue(await scrape(url), "probec_hits_total", { probe: "probe1" }) >= CALLS);
    await batch();
    await until(`${2 * CALLS} hits`, async () => sampleValue(await scrape(url), "probec_hits_total", { probe: "probe1" }) >= 2 * CALLS);
    families = await scrape(url);
    expect(sampleValue(families, "probec_hits_total", { probe: "probe1" })).toBe(2 * CALLS);
    expect(sampleValue(families, "probec_lost_total", { probe: "probe1" })).toBe(0);
    // The events printed are the ones counted.
    expect(s.stdout.text.trim().split("\n").length).toBe(2 * CALLS);

    expect(await s.stop()).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("probec run FILE with two probes: one series per probe, each exact; another path is a 404", async () => {
    const file = join(dir, "two.probe");
    writeFileSync(file, `uprobe pid/${pid}:exe:work { n = arg0 }\nuprobe pid/${pid}:exe:idle { n = arg0 }\n`);
    const s = session("run", file, "--metrics", "127.0.0.1:0", "--json");
    const url = await s.url();
    await batch();
    await until(`${CALLS} hits`, async () => sampleValue(await scrape(url), "probec_hits_total", { probe: "probe1" }) >= CALLS);
    const families = await scrape(url);
    expect(families.get("probec_hits_total")?.samples).toEqual([
      { labels: { probe: "probe1" }, value: CALLS },
      { labels: { probe: "probe2" }, value: 0 },
    ]);
    expect(families.get("probec_lost_total")?.samples).toEqual([
      { labels: { probe: "probe1" }, value: 0 },
      { labels: { probe: "probe2" }, value: 0 },
    ]);
    const other = await fetch(url.replace(/\/metrics$/, "/"));
    expect(other.status).toBe(404);
    expect(await other.text()).toBe("probec serves its metrics at GET /metrics\n");
    expect(await s.stop()).toBe(0);
  });
});

describe("--metrics with count probes (kept in the kernel)", () => {
  it("probec run FILE with `interval 1`: probec_count_total per key and the probe's hits are exactly the calls, from the interval reports", async () => {
    const file = join(dir, "count.probe");
    writeFileSync(file, `interval 1\nuprobe pid/${pid}:exe:work { count by comm  count by arg0 % 2 }\n`);
    const s = session("run", file, "--metrics", "127.0.0.1:0", "--json");
    const url = await s.url();
    // The calls so far were n = 0 … first-1: this session sees n = first … first+CALLS-1.
    const first = (callerOut.match(/^done /gm) ?? []).length * CALLS;
    await batch();
    await until(`${CALLS} counted`, async () => sampleValue(await scrape(url), "probec_hits_total", { probe: "probe1" }) >= CALLS);
    const families = await scrape(url);
    const odd = Array.from({ length: CALLS }, (_, i) => (first + i) % 2).filter((r) => r === 1).length;
    expect(families.get("probec_count_total")?.type).toBe("counter");
    expect(families.get("probec_count_total")?.samples).toEqual([
      { labels: { probe: "probe1", comm: "caller" }, value: CALLS },
      ...[
        { labels: { probe: "probe1", arg0_2: "0" }, value: CALLS - odd },
        { labels: { probe: "probe1", arg0_2: "1" }, value: odd },
      ].sort((a, b) => b.value - a.value),
    ]);
    expect(sampleValue(families, "probec_hits_total", { probe: "probe1" })).toBe(CALLS);
    expect(await s.stop()).toBe(0);
  });
});

describe("--metrics with count probes and no interval", () => {
  it("probec run FILE: each scrape asks the helper for a report (a signal, as it takes no commands), so the counts are those of the moment", async () => {
    const file = join(dir, "count-live.probe");
    writeFileSync(file, `uprobe pid/${pid}:exe:work { count by comm }\n`);
    const s = session("run", file, "--metrics", "127.0.0.1:0", "--json");
    const url = await s.url();
    await batch();
    await until(`${CALLS} counted`, async () => sampleValue(await scrape(url), "probec_count_total", { probe: "probe1", comm: "caller" }) >= CALLS);
    expect(sampleValue(await scrape(url), "probec_count_total", { probe: "probe1", comm: "caller" })).toBe(CALLS);
    await batch();
    await until(`${2 * CALLS} counted`, async () => sampleValue(await scrape(url), "probec_count_total", { probe: "probe1", comm: "caller" }) >= 2 * CALLS);
    const families = await scrape(url);
    expect(sampleValue(families, "probec_count_total", { probe: "probe1", comm: "caller" })).toBe(2 * CALLS);
    expect(sampleValue(families, "probec_hits_total", { probe: "probe1" })).toBe(2 * CALLS);
    expect(await s.stop()).toBe(0);
  });
});

describe("--metrics with a bad ADDR exits 2 naming it, before attaching anything", () => {
  let busy: Server;
  let busyPort: number;

  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    busyPort = (busy.address() as { port: number }).port;
  });

  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  const cases: [string, string, RegExp][] = [
    ["malformed", "nonsense", /^probec: --metrics nonsense: not an address to listen on\n {2}hint: write HOST:PORT/],
    ["a port out of range", "127.0.0.1:99999", /^probec: --metrics 127\.0\.0\.1:99999: the port "99999" is not a number from 0 to 65535\n/],
    ["not an address of this machine", "192.0.2.1:9464", /^probec: --metrics 192\.0\.2\.1:9464: 192\.0\.2\.1 is not an address of this machine\n/],
  ];
  for (const [what, address, message] of cases) {
    it(`${what}: ${address}`, async () => {
      const r = await probec("trace", `uprobe pid/${pid}:exe:work { n = arg0 }`, "--metrics", address);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain("attached");
      expect(r.stdout).toBe("");
    });
  }

  it("another usage error of the session comes first, and leaves nothing listening", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { count }`, "--count", "1", "--metrics", "127.0.0.1:0");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^probec: --count 1: every probe of .* aggregates in the kernel/);
    expect(r.stderr).not.toContain("metrics at");
  });

  it("a port in use", async () => {
    const r = await probec("trace", `uprobe pid/${pid}:exe:work { n = arg0 }`, "--metrics", `127.0.0.1:${busyPort}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `probec: --metrics 127.0.0.1:${busyPort}: port ${busyPort} is in use\n  hint: pick a free port, or stop what listens there (ss -ltnp)\n`,
    );
  });

  it("with --follow too: a port in use is refused before following", async () => {
    const r = await probec("trace", "uprobe docker/probec-metrics-nobody:exe:work { n = arg0 }", "--follow", "--metrics", `127.0.0.1:${busyPort}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `probec: --metrics 127.0.0.1:${busyPort}: port ${busyPort} is in use\n  hint: pick a free port, or stop what listens there (ss -ltnp)\n`,
    );
  });
});
