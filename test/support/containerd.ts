/**
 * A real containerd for the tests, started on demand and left running, like
 * the tests' dockerd (`dockerd.ts`).
 *
 * This machine runs no system containerd (`/run/containerd/containerd.sock`
 * is absent); the only one running is the tests' dockerd's *managed*
 * containerd (`/run/probec-test-docker/containerd/containerd.sock`), which
 * lives and dies with that dockerd. The containerd tests use neither: their
 * own daemon with its own socket, root and state, so that they neither see
 * nor touch anybody else's namespaces, and the CRI plugin disabled (it
 * would try to set up CNI and a kubelet-facing socket):
 *
 *     containerd --config /run/probec-test-containerd/config.toml
 *       grpc.address  /run/probec-test-containerd/containerd.sock
 *       root          /var/lib/probec-test-containerd      images, snapshots (persist across runs)
 *       state         /run/probec-test-containerd/state    tasks, shim sockets
 *       disabled_plugins = ["io.containerd.grpc.v1.cri"]
 *
 * {@link ensureContainerd} is idempotent and safe to call from several test
 * files at once (a lock file, then waiting for `ctr version` to answer).
 * Stop it with `kill $(cat /run/probec-test-containerd/containerd.pid)`.
 *
 * Needs root and containerd, runc and ctr (the `docker.io` package brings them).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { ensureDaemon } from "./daemon.js";

const RUN_DIR = "/run/probec-test-containerd";
/** The test containerd's socket: pass it as `{ address }` to the client. */
export const TEST_CONTAINERD_SOCKET = `${RUN_DIR}/containerd.sock`;
/** Where the test containerd keeps images and snapshots. */
export const TEST_CONTAINERD_ROOT = "/var/lib/probec-test-containerd";
/** Its stdout and stderr; the tail is quoted when it fails to start. */
export const TEST_CONTAINERD_LOG = "/var/log/probec-test-containerd.log";
const CONFIG = `${RUN_DIR}/config.toml`;
const PID_FILE = `${RUN_DIR}/containerd.pid`;
const LOCK_FILE = `${RUN_DIR}.lock`;

/** Runs `ctr` against the test containerd; returns its trimmed stdout. */
export function ctr(args: readonly string[], timeoutMs = 60_000): string {
  return execFileSync("ctr", ["--address", TEST_CONTAINERD_SOCKET, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  }).trim();
}

/** Whether the test containerd answers `ctr version` within `timeoutMs`. */
export function answers(timeoutMs = 2000): boolean {
  if (!existsSync(TEST_CONTAINERD_SOCKET)) return false;
  try {
    ctr(["version"], timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the test containerd answers, starting it if needed; returns its socket.
 *
 * @throws Error with containerd's log tail when it does not answer within `timeoutMs`.
 */
export async function ensureContainerd(timeoutMs = 60_000): Promise<string> {
  await ensureDaemon(
    {
      name: "containerd",
      command: "containerd",
      args: ["--config", CONFIG],
      socket: TEST_CONTAINERD_SOCKET,
      ping: () => answers(),
      // containerd has no pidfile option: record the spawned pid for `kill $(cat ...)`.
      pidFile: PID_FILE,
      log: TEST_CONTAINERD_LOG,
      // Beside RUN_DIR, not in it, so that it can be taken before RUN_DIR exists.
      lockFile: LOCK_FILE,
      needsRoot: "the containerd tests need root: they start their own containerd",
      installHint: "install the docker.io (or containerd) package",
      prepare: writeConfig,
    },
    timeoutMs,
  );
  return TEST_CONTAINERD_SOCKET;
}

/** Creates the directories and the config file, and removes a dead daemon's socket. */
function writeConfig(): void {
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(TEST_CONTAINERD_ROOT, { recursive: true });
  writeFileSync(
    CONFIG,
    [
      "version = 2",
      `root = "${TEST_CONTAINERD_ROOT}"`,
      `state = "${RUN_DIR}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${TEST_CONTAINERD_SOCKET}"`,
      "[ttrpc]",
      `  address = "${TEST_CONTAINERD_SOCKET}.ttrpc"`,
      "",
    ].join("\n"),
  );
  rmSync(TEST_CONTAINERD_SOCKET, { force: true }); // a dead daemon's socket
}

/**
 * Removes container `id` of `namespace` and its task, if they exist; never
 * throws for one that does not.
 */
export function removeCtrContainer(namespace: string, id: string): void {
  try {
    ctr(["-n", namespace, "tasks", "kill", "-s", "SIGKILL", id], 10_000);
  } catch {
    // No task, or already stopped.
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      ctr(["-n", namespace, "tasks", "delete", "-f", id], 10_000);
    } catch {
      // No task.
    }
    try {
      ctr(["-n", namespace, "containers", "delete", id], 10_000);
      return;
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? "");
      if (/not found/i.test(stderr)) return;
      if (Date.now() > deadline) throw error;
    }
  }
}
