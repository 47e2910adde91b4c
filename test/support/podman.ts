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
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDaemon } from "./daemon.js";
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
  await ensureDaemon(
    {
      name: "podman",
      label: "podman system service",
      command: "podman",
      args: [...GLOBAL_FLAGS, "system", "service", "--time=0", TEST_PODMAN_HOST],
      socket: TEST_PODMAN_SOCKET,
      pingWhat: "/_ping",
      // The service speaks the Docker API, /_ping included.
      ping: () => ping(TEST_PODMAN_SOCKET),
      // `podman system service` has no pidfile option: record the spawned pid.
      pidFile: PID_FILE,
      log: TEST_PODMAN_LOG,
      lockFile: LOCK_FILE,
      needsRoot: "the Podman tests need root: they start their own podman service",
      installHint: "install the podman package",
      prepare: () => {
        mkdirSync(TEST_PODMAN_ROOT, { recursive: true });
        mkdirSync(RUN_ROOT, { recursive: true });
        rmSync(TEST_PODMAN_SOCKET, { force: true }); // a stale socket of a killed service
      },
      // It answers in about 0.1 s: poll more often than the others.
      pollMs: 50,
    },
    timeoutMs,
  );
  return TEST_PODMAN_HOST;
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
