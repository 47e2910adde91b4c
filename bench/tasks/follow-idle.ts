/**
 * Task (t), issue 14: the agent's idle CPU and memory over 60 s while
 * following 50 containers.
 *
 * 50 containers labelled `probec-bench-follow=idle` run `follow-ticker
 * idle` (the probed function is never called). The agent is the CLI as a
 * user (or the DaemonSet) runs it, the package's bin: `probec run FILE
 * --follow --json`, FILE being `uprobe docker/probec-bench-follow=idle:exe:probec_bench_started { start = arg0 }`.
 * Once its stdout has said `attached` for all 50, the CPU time (user +
 * system, /proc/PID/stat) of the Node process and of its helper
 * `probec-attach` is read, again 60 s later, and their resident memory then
 * (VmRSS, and the peak VmHWM). A second run adds `--metrics 127.0.0.1:0`
 * and scrapes /metrics every 15 s (Prometheus' default interval), what the
 * DaemonSet costs with metrics on.
 *
 * No target in the issue: the figures are printed. No peer follows
 * containers.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDockerd, TEST_DOCKER_HOST } from "../../test/support/dockerd.js";
import { formatBytes } from "../table.js";
import { lastLines, messageOf, printSkipped, withTempDir } from "./attach-support.js";
import { childrenOf, ensureTickerImage, FOLLOW_LABEL, processUsage, withLabelledContainers } from "./follow-support.js";

const BIN = fileURLToPath(new URL("../../cli/probec.cjs", import.meta.url));
const CONTAINERS = 50;
const IDLE_S = 60;
const SCRAPE_EVERY_MS = 15_000;
const TITLE = `(t) the agent idle while following ${CONTAINERS} containers, over ${IDLE_S} s`;

/** One process's figures over the idle window. */
interface Usage {
  readonly who: string;
  readonly cpuMs: number | undefined;
  readonly rss: number | undefined;
  readonly hwm: number | undefined;
}

/** Runs the agent until `CONTAINERS` are attached, measures it over IDLE_S, stops it; throws with its stderr on failure. */
async function measureAgent(file: string, metrics: boolean): Promise<{ usages: Usage[]; scrapes: number }> {
  const argv = [BIN, "run", file, "--follow", "--json", ...(metrics ? ["--metrics", "127.0.0.1:0"] : [])];
  const agent = spawn(process.execPath, argv, { env: { ...process.env, DOCKER_HOST: TEST_DOCKER_HOST }, stdio: ["ignore", "pipe", "pipe"] });
  let attached = 0;
  let partial = "";
  let stderr = "";
  let exited = false;
  agent.stdout.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith('{"container":"attached"')) attached++;
  });
  agent.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  agent.on("close", () => (exited = true));
  try {
    const deadline = performance.now() + 120_000;
    while (attached < CONTAINERS) {
      if (exited || performance.now() > deadline) throw new Error(`${attached} of ${CONTAINERS} attached: ${lastLines(stderr)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /metrics at (http:\/\/\S+)/.exec(stderr)?.[1];
    const pids = [agent.pid as number, ...childrenOf(agent.pid as number)];
    const before = pids.map(processUsage);
    let scrapes = 0;
    const scraper =
      url === undefined
        ? undefined
        : setInterval(() => {
            void fetch(url)
              .then((r) => r.text())
              .then(() => scrapes++)
              .catch(() => undefined);
          }, SCRAPE_EVERY_MS);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    if (scraper !== undefined) clearInterval(scraper);
    const after = pids.map(processUsage);
    const usages = pids.map((pid, i) => {
      const b = before[i];
      const a = after[i];
      return {
        who: i === 0 ? `probec run --follow${metrics ? " --metrics" : ""} (node, pid ${pid})` : `probec-attach (helper, pid ${pid})`,
        cpuMs: a === undefined || b === undefined ? undefined : a.cpuMs - b.cpuMs,
        rss: a?.rss,
        hwm: a?.hwm,
      };
    });
    return { usages, scrapes };
  } finally {
    agent.kill("SIGTERM");
    const deadline = performance.now() + 60_000;
    while (!exited && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (!exited) agent.kill("SIGKILL");
  }
}

/** Runs task (t) and prints its table. */
export async function followIdleTask(print: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return printSkipped(print, TITLE, "needs root (BPF, uprobes, the tests' Docker daemon)");
  try {
    await ensureDockerd();
  } catch (error) {
    return printSkipped(print, TITLE, `the tests' Docker daemon cannot be started: ${messageOf(error)}`);
  }
  const { image, binary } = ensureTickerImage();
  const names = Array.from({ length: CONTAINERS }, (_, i) => `probec-bench-follow-idle-${i}`);
  await withTempDir(async (dir) => {
    const file = join(dir, "idle.probe");
    writeFileSync(file, `uprobe docker/${FOLLOW_LABEL}=idle:exe:probec_bench_started { start = arg0 }\n`);
    await withLabelledContainers(names, "idle", image, [binary, "idle"], async () => {
      const rows: string[][] = [["process", `CPU in ${IDLE_S} s`, "CPU %", "RSS", "peak RSS"]];
      const notes: string[] = [];
      for (const metrics of [false, true]) {
        try {
          const { usages, scrapes } = await measureAgent(file, metrics);
          for (const u of usages)
            rows.push([
              u.who,
              u.cpuMs === undefined ? "—" : `${u.cpuMs.toFixed(0)} ms`,
              u.cpuMs === undefined ? "—" : `${((u.cpuMs / (IDLE_S * 1000)) * 100).toFixed(2)} %`,
              formatBytes(u.rss),
              formatBytes(u.hwm),
            ]);
          if (metrics) notes.push(`with --metrics: /metrics scraped ${scrapes} times, every ${SCRAPE_EVERY_MS / 1000} s`);
        } catch (error) {
          rows.push([`probec run --follow${metrics ? " --metrics" : ""}`, "skipped", "", "", ""]);
          notes.push(`skipped: ${messageOf(error)}`);
        }
      }
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
      const line = (r: string[]): string =>
        r
          .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
          .join("  ")
          .trimEnd();
      print("");
      print(TITLE);
      print("=".repeat(TITLE.length));
      print(line(rows[0] ?? []));
      print(widths.map((w) => "-".repeat(w)).join("  "));
      for (const r of rows.slice(1)) print(line(r));
      print(`  * CPU: user + system time of each process over the ${IDLE_S} s (/proc/PID/stat), after all ${CONTAINERS} were attached`);
      print("  * RSS: VmRSS at the end of the window; peak RSS: VmHWM since the process started (attaching included)");
      for (const n of notes) print(`  * ${n}`);
      print("  (no target in the issue for this task: figures only)");
    });
  });
}
