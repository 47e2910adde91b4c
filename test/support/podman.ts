/**
 * Podman for the tests: its API service on its own socket, started on demand
 * and left running, and CLI helpers to import an image and run containers.
 *
 * Like test/support/dockerd.ts, nothing of the machine's own Podman is seen
 * or touched: every command (the service included) gets the same global
 * flags, so they share one private store and state directory:
 *
 *     podman --root /var/lib/probec-test-podman     images, layers, containers' DB
 *            --runroot /run/probec-test-podman      storage run state
 *            --tmpdir /run/probec-test-podman/libpod  libpod's locks and runtime state
 *            --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc
 *
 * cgroupfs, file events: no systemd here. Containers run `--network none`
 * (no CNI/netavark setup) and with lowered rlimits (see {@link RUN_FLAGS}).
 *
 * {@link ensurePodmanService} is idempotent and safe to call from several
 * test files at once (a lock file, then a second look). The service runs
 * detached with `--time=0` (never exits when idle) and keeps running after
 * the tests, for later files and runs (it answers `/_ping` in about 0.1 s);
 * stop it with `kill $(cat /run/probec-test-podman.pid)`.
 *
 * Needs root and the `podman` package (with conmon, runc, containers-common).
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ping } from "./dockerd.js";
import { buildRootfs } from "./rootfs.js";

/** The test service's socket. */
export const TEST_PODMAN_SOCKET = "/run/probec-test-podman.sock";
/** The same, as a `CONTAINER_HOST` value: pass it as `{ podman: { host } }`. */
export const TEST_PODMAN_HOST = `unix://${TEST_PODMAN_SOCKET}`;
/** Where the test store keeps images, layers and the containers' database. */
export const TEST_PODMAN_ROOT = "/var/lib/probec-test-podman";
/** The service's stdout and stderr; its tail is quoted when it fails to start. */
export const TEST_PODMAN_LOG = "/var/log/probec-test-podman.log";

const RUN_ROOT = "/run/probec-test-podman";
const PID_FILE = "/run/probec-test-podman.pid";
const LOCK_FILE = "/run/probec-test-podman.lock";

/** Global flags of every podman command here: the private store, no systemd. */
export const GLOBAL_FLAGS: readonly string[] = [
  `--root=${TEST_PODMAN_ROOT}`,
  `--runroot=${RUN_ROOT}`,
  `--tmpdir=${RUN_ROOT}/libpod`,
  "--storage-driver=overlay",
  "--cgroup-manager=cgroupfs",
  "--events-backend=file",
  "--runtime=runc",
];

/**
 * `podman run` flags for every test container. Rootful Podman asks runc for
 * `RLIMIT_NOFILE`/`RLIMIT_NPROC` of 1048576 (and with `--ulimit host`, or the
 * current limits, runc still fails here): on this machine runc then dies with
 * "error setting rlimit type 7 (6): operation not permitted" (no
 * CAP_SYS_RESOURCE in the bounding set). Lowering limits needs no privilege.
 */
export const RUN_FLAGS: readonly string[] = ["--network=none", "--ulimit=nofile=1024:1024", "--ulimit=nproc=1024:1024"];

/**
 * Makes sure the test service answers `/_ping`, starting it if needed; returns
 * its `CONTAINER_HOST` ({@link TEST_PODMAN_HOST}). Leaves it running.
 *
 * @throws Error with the service's log tail when it does not answer within `timeoutMs`.
 */
export async function ensurePodmanService(timeoutMs = 60_000): Promise<string> {
  if (await ping(TEST_PODMAN_SOCKET)) return TEST_PODMAN_HOST;
  if (process.getuid?.() !== 0) throw new Error("the Podman tests need root: they start their own podman service");
  const deadline = Date.now() + timeoutMs;
  while (!takeLock()) {
    if (await ping(TEST_PODMAN_SOCKET)) return TEST_PODMAN_HOST;
    if (Date.now() > deadline) throw new Error(`podman: ${LOCK_FILE} held by another process for ${timeoutMs} ms`);
    await sleep(100);
  }
  try {
    if (await ping(TEST_PODMAN_SOCKET)) return TEST_PODMAN_HOST;
    const logStart = existsSync(TEST_PODMAN_LOG) ? statSync(TEST_PODMAN_LOG).size : 0;
    const service = startService();
    while (Date.now() < deadline) {
      if (await ping(TEST_PODMAN_SOCKET)) return TEST_PODMAN_HOST;
      if (service.failure !== undefined) throw new Error(`${service.failure}\n${logTail(logStart)}`);
      await sleep(50);
    }
    throw new Error(`podman service did not answer /_ping on ${TEST_PODMAN_SOCKET} within ${timeoutMs} ms\n${logTail(logStart)}`);
  } finally {
    rmSync(LOCK_FILE, { force: true });
  }
}

/** Creates the lock file, or false when a live process holds it; a dead holder's lock is broken. */
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
  if (Number.isSafeInteger(holder) && holder > 0 && alive(holder)) return false;
  rmSync(LOCK_FILE, { force: true });
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Spawns `podman system service --time=0` detached; `failure` is set if it cannot run or exits. */
function startService(): { failure: string | undefined } {
  mkdirSync(TEST_PODMAN_ROOT, { recursive: true });
  mkdirSync(RUN_ROOT, { recursive: true });
  rmSync(TEST_PODMAN_SOCKET, { force: true }); // a stale socket of a killed service
  const log = openSync(TEST_PODMAN_LOG, "a");
  const service: { failure: string | undefined } = { failure: undefined };
  const args = [...GLOBAL_FLAGS, "system", "service", "--time=0", TEST_PODMAN_HOST];
  // detached + unref: the service outlives this test process (and vitest's workers).
  const child = spawn("podman", args, { detached: true, stdio: ["ignore", log, log] });
  child.on("error", (error: NodeJS.ErrnoException) => {
    service.failure =
      error.code === "ENOENT"
        ? "podman: not found on PATH; install the podman package"
        : `podman: cannot run it: ${error.message}`;
  });
  child.on("exit", (code, signal) => {
    service.failure ??= `podman system service exited (${code ?? signal}) before answering /_ping on ${TEST_PODMAN_SOCKET}`;
  });
  if (child.pid !== undefined) writeFileSync(PID_FILE, `${child.pid}\n`);
  child.unref();
  closeSync(log);
  return service;
}

function logTail(from: number, lines = 30): string {
  if (!existsSync(TEST_PODMAN_LOG)) return `(no ${TEST_PODMAN_LOG})`;
  const text = readFileSync(TEST_PODMAN_LOG).subarray(from).toString("utf8").trimEnd();
  if (text === "") return `(nothing new in ${TEST_PODMAN_LOG})`;
  return `last lines of ${TEST_PODMAN_LOG}:\n${text.split("\n").slice(-lines).join("\n")}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the podman CLI on the test store; returns its trimmed stdout. */
export function podman(args: readonly string[], input?: Buffer): string {
  return execFileSync("podman", [...GLOBAL_FLAGS, ...args], {
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  }).trim();
}

/**
 * The id of image `name`, imported (`podman import`) from a fresh rootfs
 * holding `binaries` unless the store already has it. Podman names it
 * `localhost/<name>`; `name` still finds it.
 */
export function importPodmanImage(name: string, binaries: readonly string[] = ["/usr/bin/sleep"]): string {
  try {
    return podman(["image", "inspect", "--format", "{{.Id}}", name]);
  } catch {
    // Not there yet.
  }
  const dir = mkdtempSync(join(tmpdir(), "probec-rootfs-"));
  try {
    buildRootfs(dir, binaries);
    const tar = execFileSync("tar", ["-C", dir, "-c", "."], { maxBuffer: 256 * 1024 * 1024 });
    return podman(["import", "--quiet", "-", name], tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `podman run -d` with {@link RUN_FLAGS} and `--name name`, after removing any
 * leftover container of that name; returns the full id.
 */
export function runPodmanContainer(image: string, name: string, cmd: readonly string[], options: readonly string[] = []): string {
  removePodmanContainers(name);
  return podman(["run", "-d", ...RUN_FLAGS, "--name", name, ...options, image, ...cmd]);
}

/** `podman rm -f -t 0` each name that exists; never throws for one that does not. */
export function removePodmanContainers(...names: string[]): void {
  for (const name of names) {
    try {
      podman(["rm", "-f", "-t", "0", "--ignore", name]);
    } catch (error) {
      if (!/no such container/i.test(String((error as { stderr?: unknown }).stderr ?? ""))) throw error;
    }
  }
}
