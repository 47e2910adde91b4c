/**
 * Tasks (d) and (e): docker targets and scopes, on the tests' own dockerd
 * (test/support/dockerd.ts: /run/probec-test-docker.sock, started if silent).
 *
 * (d) `resolveTarget("docker/NAME:libc:getaddrinfo")` to the symbol's file
 *     offset, cold: a fresh Node process per run (modules imported), timed
 *     from the call to the result; 10 processes. Target ≤ 50 ms.
 * (e) the scopes of 50 running containers, all resolved in one fresh Node
 *     process (`resolveScope` one after another), 3 processes; the CLI
 *     `probec resolve` once for all containers; and the CLI
 *     `probec resolve docker/NAME` 50 times. Target ≤ 1 s for all 50.
 *
 * The peers are what people do by hand: `docker inspect` for the pid, then
 * `readelf` / `bpftrace -l` through `/proc/PID/root`, or `/proc/PID/status`.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { docker, ensureDockerd, TEST_DOCKER_HOST } from "../../test/support/dockerd.js";
import { ensureBenchImage, withContainers } from "../docker.js";
import { printTask, type Row } from "../table.js";
import { lineCount, medianMs, peerRow, probecRow } from "./rows.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Starts (or reuses) the daemon and the image; the reason when that fails. */
async function setUp(): Promise<string | undefined> {
  try {
    await ensureDockerd();
    ensureBenchImage();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.split("\n").slice(0, 3).join(" / ") : String(error);
  }
}

/** Runs `body` with DOCKER_HOST pointing at the bench daemon (the peers and the CLI read it), then restores it. */
async function withDockerHost<T>(body: () => Promise<T>): Promise<T> {
  const before = process.env["DOCKER_HOST"];
  process.env["DOCKER_HOST"] = TEST_DOCKER_HOST;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env["DOCKER_HOST"];
    else process.env["DOCKER_HOST"] = before;
  }
}

const skipped = (print: (line: string) => void, title: string, reason: string): void => {
  print(`\n${title}\n${"=".repeat(title.length)}\n  skipped: ${reason}`);
};

/** Task (d): one docker target to the file offset of getaddrinfo in the container's libc, cold. */
export async function resolveTargetTask(print: (line: string) => void): Promise<void> {
  const title = "(d) resolveTarget(docker/NAME:libc:getaddrinfo), cold";
  const reason = await setUp();
  if (reason !== undefined) return skipped(print, title, `dockerd: ${reason}`);
  const name = "probec-bench-target";
  const symbol = "getaddrinfo";
  let started = false;
  await withDockerHost(async () => {
    try {
      await withContainers([name], () => {
        started = true;
        const pid = docker(["inspect", "-f", "{{.State.Pid}}", name]);
        // The image copies libc to the path ldd names (/lib/x86_64-linux-gnu on Debian), where /lib is a real directory, not the host's usrmerge symlink.
        const libc = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"].find((p) => existsSync(`/proc/${pid}/root${p}`));
        if (libc === undefined) return skipped(print, title, `no libc.so.6 under /proc/${pid}/root/{usr/,}lib/x86_64-linux-gnu`);
        const rows: Row[] = [];
        const offset = (a: unknown): string => (typeof a === "number" ? `offset 0x${a.toString(16)}` : `no answer (${String(a)})`);
        const probec: Row = {
          ...probecRow(
            `probec resolveTarget(docker/${name}:libc:${symbol})`,
            "fresh process",
            "probec-target",
            { target: `docker/${name}:libc:${symbol}`, host: TEST_DOCKER_HOST },
            10,
            offset,
          ),
          bytesHow: "rchar",
        };
        rows.push(probec);
        const readelfAnswer = (out: string): string => {
          const value = out.trim().split("\n")[0]?.trim().split(/\s+/)[1];
          return value === undefined ? "not found" : `addr 0x${value.replace(/^0+/, "")} (${lineCount(out)} lines; no offset)`;
        };
        const pair = `pid=$(docker inspect -f '{{.State.Pid}}' ${name}) && readelf -sW /proc/$pid/root${libc} | grep ${symbol}`;
        rows.push({
          ...peerRow(
            `docker inspect → readelf -sW /proc/PID/root/…/libc.so.6 | grep ${symbol}`,
            { stages: [["sh", "-c", pair]], capture: true, warmup: 1, runs: 10, budgetS: 10, timeoutS: 60 },
            readelfAnswer,
          ),
          note: "both commands in sequence under one sh -c (sh adds ~1 ms); rchar is the shell's and its children's",
        });
        rows.push(
          peerRow(
            `docker inspect -f '{{.State.Pid}}' ${name} (alone)`,
            { stages: [["docker", "inspect", "-f", "{{.State.Pid}}", name]], capture: true, warmup: 1, runs: 10, budgetS: 10, timeoutS: 60 },
            (out) => `pid ${out.trim()}`,
          ),
        );
        rows.push(
          peerRow(
            `bpftrace -l 'uprobe:/proc/${pid}/root${libc}:${symbol}'`,
            { stages: [["bpftrace", "-l", `uprobe:/proc/${pid}/root${libc}:${symbol}`]], capture: true, warmup: 1, runs: 10, budgetS: 10, timeoutS: 60 },
            (out) => (out.includes(symbol) ? `listed (no offset; pid from docker inspect, not timed)` : "not found"),
          ),
        );
        printTask(print, `${title}: container ${name}, libc ${libc}`, rows, [
          { what: "probec cold median (call to result)", value: medianMs(probec), limit: 50, unit: "ms" },
        ]);
      });
    } catch (error) {
      if (started) throw error; // a bug in the bench: index.ts prints it
      skipped(print, title, `setup failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    }
  });
}

/** Task (e): the scopes of 50 running containers. */
export async function resolveScopesTask(print: (line: string) => void, count = 50): Promise<void> {
  const title = `(e) resolve the scopes of ${count} running containers`;
  const reason = await setUp();
  if (reason !== undefined) return skipped(print, title, `dockerd: ${reason}`);
  const names = Array.from({ length: count }, (_, i) => `probec-bench-${i + 1}`);
  let setupMs = 0;
  let started = false;
  await withDockerHost(async () => {
    const began = performance.now();
    try {
      await withContainers(names, () => {
        setupMs = performance.now() - began;
        started = true;
        const rows: Row[] = [];
        const scopes = (a: unknown): string => {
          const r = a as { scopes?: number; processes?: number } | undefined;
          return r?.scopes === undefined ? `no answer (${JSON.stringify(a)})` : `${r.scopes} scopes, ${r.processes} processes`;
        };
        const probec: Row = {
          ...probecRow(`probec resolveScope ×${count} (a loop)`, "fresh process", "probec-scopes", { names, host: TEST_DOCKER_HOST }, 3, scopes),
          bytesHow: "rchar",
        };
        rows.push(probec);
        // One `probec resolve` for every container at once: one pass over /proc, one listing per runtime.
        const all = peerRow(
          `probec CLI \`resolve\` (all containers, one process)`,
          {
            stages: [
              ["sh", "-c", `"${process.execPath}" "${CLI}" resolve`],
              ["grep", "-c", "^docker "],
            ],
            capture: true,
            warmup: 1,
            runs: 5,
            budgetS: 20,
            timeoutS: 120,
          },
          (out) => `${out.trim()} containers`,
        );
        rows.push({ ...all, tool: "probec CLI `resolve` (all containers, one process)" });
        const loop = `for n in ${names.join(" ")}; do "${process.execPath}" "${CLI}" resolve docker/$n || exit 1; done`;
        const cli = peerRow(
          `probec CLI \`resolve docker/NAME\` ×${count}`,
          {
            stages: [
              ["sh", "-c", loop],
              ["grep", "-c", "^runtime"],
            ],
            capture: true,
            warmup: 0,
            runs: 1,
            budgetS: 30,
            timeoutS: 300,
          },
          (out) => `${out.trim()} scopes`,
        );
        rows.push({
          ...cli,
          tool: `probec CLI \`resolve docker/NAME\` ×${count}`,
          note:
            cli.note ??
            `${count} \`node dist/src/cli/main.js\` in sequence: Node start-up and module loading included, plus reading each process's maps; one run (~20 s), no warm-up`,
        });
        rows.push(
          peerRow(
            `docker inspect ×${count} names | /proc/PID/status NSpid`,
            {
              stages: [
                ["docker", "inspect", "-f", "{{.State.Pid}}", ...names],
                ["sed", "s|.*|/proc/&/status|"],
                ["xargs", "grep", "-H", "NSpid"],
              ],
              capture: true,
              warmup: 1,
              runs: 10,
              budgetS: 10,
              timeoutS: 60,
            },
            (out) => `${lineCount(out)} NSpid lines (first process only)`,
          ),
        );
        printTask(print, `${title} (setup: ${count} containers started in ${(setupMs / 1000).toFixed(1)} s, 10 at a time)`, rows, [
          { what: `probec resolveScope ×${count}, one fresh process (median)`, value: medianMs(probec), limit: 1000, unit: "ms" },
          { what: "probec CLI `resolve`, all containers (median)", value: medianMs(all), limit: 1000, unit: "ms" },
          { what: `probec CLI ×${count}, whole processes (median)`, value: medianMs(cli), limit: 1000, unit: "ms" },
        ]);
      });
    } catch (error) {
      if (started) throw error;
      skipped(print, title, `setup failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    }
  });
}
