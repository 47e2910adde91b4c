/**
 * What the `--follow` tasks (r), (s) and (t) share (issue 14): the program
 * their containers run (`follow-ticker.c`) in an image of its own, and
 * containers started with the label the tasks' selector picks, removed
 * afterwards whatever happens (also on SIGINT/SIGTERM).
 *
 * The image is the ticker and its libraries (`importBinariesImage`),
 * named by the hash of the ticker's source so that runs reuse it; the
 * containers run on the tests' Docker daemon, as tasks (d)–(f) do.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { importBinariesImage, TEST_DOCKER_HOST } from "../../test/support/dockerd.js";
import { removeContainers } from "../docker.js";

/** The label the tasks' selectors pick: `docker/probec-bench-follow=<task>`. */
export const FOLLOW_LABEL = "probec-bench-follow";

const SOURCE = fileURLToPath(new URL("../../../bench/tasks/follow-ticker.c", import.meta.url));

/** The ticker image and the binary's path in it (the same as on the host), built and imported once per source. */
export function ensureTickerImage(): { image: string; binary: string } {
  const tag = createHash("sha256").update(readFileSync(SOURCE)).digest("hex").slice(0, 12);
  const binary = `/tmp/probec-bench-ticker-${tag}`;
  if (!existsSync(binary)) {
    const r = spawnSync("gcc", ["-O2", "-Wall", "-o", binary, SOURCE], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`gcc follow-ticker.c failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
  const image = `probec-bench-ticker:${tag}`;
  importBinariesImage(image, [binary]);
  return { image, binary };
}

/** `docker run -d --network none --label probec-bench-follow=VALUE --name NAME IMAGE ARGV…`; resolves to the container's id. */
export function runLabelled(name: string, value: string, image: string, argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ["run", "-d", "--network", "none", "--label", `${FOLLOW_LABEL}=${value}`, "--name", name, image, ...argv];
    const child = spawn("docker", args, { env: { ...process.env, DOCKER_HOST: TEST_DOCKER_HOST }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker run ${name}: ${err.trim()}`))));
  });
}

/**
 * Runs `body` while the containers `names` run `argv` with the label
 * `probec-bench-follow=VALUE` (started 10 at a time), and removes them
 * afterwards, whether it returns, throws, or the bench is interrupted.
 */
export async function withLabelledContainers<T>(
  names: readonly string[],
  value: string,
  image: string,
  argv: readonly string[],
  body: () => T | Promise<T>,
): Promise<T> {
  const onSignal = (signal: NodeJS.Signals): void => {
    removeContainers(names);
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    removeContainers(names);
    for (let i = 0; i < names.length; i += 10) await Promise.all(names.slice(i, i + 10).map((name) => runLabelled(name, value, image, argv)));
    return await body();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    removeContainers(names);
  }
}

/** CPU time (user + system, ms) and resident memory (bytes) of a process now, from /proc; undefined once it is gone. */
export function processUsage(pid: number): { cpuMs: number; rss: number; hwm: number } | undefined {
  try {
    // Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th (proc(5)).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
    return { cpuMs: (ticks * 1000) / CLOCK_TICKS, rss: kib("VmRSS"), hwm: kib("VmHWM") };
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture probec runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;

/** The pids of a process's children (`/proc/PID/task/PID/children`, Linux ≥ 3.5). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
