/**
 * The Docker daemon and containers for the bench's target tasks (d) and (e).
 *
 * The bench is built without test/, so this is a small self-contained copy
 * of test/support/dockerd.ts's starter with the SAME conventions: socket
 * /run/probec-test-docker.sock, data root /var/lib/probec-test-docker, exec
 * root /run/probec-test-docker, pidfile /run/probec-test-docker.pid,
 * containerd namespace probec-test, and the same lock file, so that the
 * bench and the tests share one daemon and never start two. A daemon that
 * already answers is reused; one the bench starts is left running, as the
 * tests leave theirs (stop it with `kill $(cat /run/probec-test-docker.pid)`).
 *
 * The bench's image is `probec-bench-sleep`: /usr/bin/sleep plus what `ldd`
 * says it loads (libc, ld.so), about 2 MiB, imported once and reused.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const BENCH_DOCKER_SOCKET = "/run/probec-test-docker.sock";
export const BENCH_DOCKER_HOST = `unix://${BENCH_DOCKER_SOCKET}`;
export const BENCH_IMAGE = "probec-bench-sleep";
const DATA_ROOT = "/var/lib/probec-test-docker";
const LOG = "/var/log/probec-test-docker.log";
const EXEC_ROOT = "/run/probec-test-docker";
const PID_FILE = "/run/probec-test-docker.pid";
const LOCK_FILE = "/run/probec-test-docker.lock";

function ping(timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: BENCH_DOCKER_SOCKET, path: "/_ping", headers: { Host: "docker" }, timeout: timeoutMs, agent: false });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(res.statusCode === 200 && body === "OK"));
    });
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The tests' lock protocol: create it exclusively, or break it when its holder is dead. */
function takeLock(): boolean {
  try {
    const fd = openSync(LOCK_FILE, "wx");
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  let holder: number;
  try {
    holder = Number(readFileSync(LOCK_FILE, "utf8").trim());
  } catch {
    return false;
  }
  if (!(Number.isSafeInteger(holder) && holder > 0 && alive(holder))) rmSync(LOCK_FILE, { force: true });
  return false;
}

function logTail(from: number): string {
  if (!existsSync(LOG)) return `(no ${LOG})`;
  const text = readFileSync(LOG).subarray(from).toString("utf8").trimEnd();
  return text === "" ? `(nothing new in ${LOG})` : text.split("\n").slice(-5).join(" / ");
}

/**
 * Makes sure the shared test daemon answers, starting it if needed.
 * Returns its DOCKER_HOST, or throws with the reason (to print as "skipped").
 */
export async function ensureBenchDockerd(timeoutMs = 60_000): Promise<string> {
  if (await ping()) return BENCH_DOCKER_HOST;
  if (process.getuid?.() !== 0) throw new Error("needs root to start its own dockerd");
  const deadline = Date.now() + timeoutMs;
  while (!takeLock()) {
    if (await ping()) return BENCH_DOCKER_HOST;
    if (Date.now() > deadline) throw new Error(`${LOCK_FILE} held by another process for ${timeoutMs} ms`);
    await sleep(100);
  }
  try {
    if (await ping()) return BENCH_DOCKER_HOST;
    mkdirSync(DATA_ROOT, { recursive: true });
    const logStart = existsSync(LOG) ? statSync(LOG).size : 0;
    const log = openSync(LOG, "a");
    const args = [
      "--iptables=false",
      "--bridge=none",
      `--host=${BENCH_DOCKER_HOST}`,
      `--data-root=${DATA_ROOT}`,
      `--exec-root=${EXEC_ROOT}`,
      `--pidfile=${PID_FILE}`,
      "--containerd-namespace=probec-test",
      "--containerd-plugins-namespace=probec-test-plugins",
    ];
    let failure: string | undefined;
    const child = spawn("dockerd", args, { detached: true, stdio: ["ignore", log, log] });
    child.on("error", (e: NodeJS.ErrnoException) => (failure = e.code === "ENOENT" ? "dockerd is not installed (docker.io)" : `dockerd: ${e.message}`));
    child.on("exit", (code, signal) => (failure ??= `dockerd exited (${code ?? signal}) before answering /_ping`));
    child.unref();
    closeSync(log);
    while (Date.now() < deadline) {
      if (await ping()) return BENCH_DOCKER_HOST;
      if (failure !== undefined) throw new Error(`${failure}: ${logTail(logStart)}`);
      await sleep(100);
    }
    throw new Error(`dockerd did not answer on ${BENCH_DOCKER_SOCKET} within ${timeoutMs} ms: ${logTail(logStart)}`);
  } finally {
    rmSync(LOCK_FILE, { force: true });
  }
}

/** The docker CLI against the bench daemon; trimmed stdout. */
export function docker(args: readonly string[], input?: Buffer): string {
  return execFileSync("docker", args, {
    env: { ...process.env, DOCKER_HOST: BENCH_DOCKER_HOST },
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    timeout: 120_000,
    maxBuffer: 16 << 20,
  }).trim();
}

/** The same, asynchronously (for parallel `docker run`); rejects with stderr. */
function dockerAsync(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { env: { ...process.env, DOCKER_HOST: BENCH_DOCKER_HOST }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker ${args.slice(0, 2).join(" ")}: ${err.trim()}`))));
  });
}

/** The bench image's id, importing it (sleep + its libraries, from ldd) when the daemon lacks it. */
export function ensureBenchImage(): string {
  try {
    return docker(["image", "inspect", "--format", "{{.Id}}", BENCH_IMAGE]);
  } catch {
    // Not there yet.
  }
  const dir = mkdtempSync(join(tmpdir(), "probec-bench-rootfs-"));
  try {
    const ldd = execFileSync("ldd", ["/usr/bin/sleep"], { encoding: "utf8" });
    const files = ["/usr/bin/sleep"];
    for (const line of ldd.split("\n")) {
      const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
      if (path !== undefined) files.push(path);
    }
    for (const file of files) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(file, join(dir, file));
    }
    const tar = execFileSync("tar", ["-C", dir, "-c", "."], { maxBuffer: 256 << 20 });
    return docker(["import", "-", BENCH_IMAGE], tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `docker rm -f` of all `names` in one command; never throws (missing ones are fine). */
export function removeContainers(names: readonly string[]): void {
  if (names.length === 0) return;
  spawnSync("docker", ["rm", "-f", ...names], { env: { ...process.env, DOCKER_HOST: BENCH_DOCKER_HOST }, stdio: "ignore", timeout: 120_000 });
}

/**
 * Starts `names` as `docker run -d --network none --name N IMAGE /usr/bin/sleep 600`,
 * `parallel` at a time, after removing leftovers of the same names. Throws
 * (after removing what it started) when any fails.
 */
export async function startContainers(names: readonly string[], parallel = 10): Promise<void> {
  removeContainers(names);
  try {
    for (let i = 0; i < names.length; i += parallel) {
      await Promise.all(names.slice(i, i + parallel).map((name) => dockerAsync(["run", "-d", "--network", "none", "--name", name, BENCH_IMAGE, "/usr/bin/sleep", "600"])));
    }
  } catch (error) {
    removeContainers(names);
    throw error;
  }
}

/**
 * Runs `body` with the named containers up and removes them afterwards,
 * whether it returns, throws, or the bench is interrupted (SIGINT/SIGTERM).
 */
export async function withContainers<T>(names: readonly string[], body: () => T | Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals): void => {
    removeContainers(names);
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await startContainers(names);
    return await body();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    removeContainers(names);
  }
}
