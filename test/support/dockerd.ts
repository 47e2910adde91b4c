/**
 * A real Docker daemon for the tests, started on demand and left running.
 *
 * The tests use their own daemon, never the machine's `/var/run/docker.sock`:
 * its own socket, data root, exec root and containerd namespace, so that a
 * developer's containers and images are neither seen nor touched, and the
 * tests see a daemon in a known state (overlay2 under {@link TEST_DOCKER_DATA_ROOT}).
 *
 *     dockerd --iptables=false --bridge=none            no network setup: containers run --network none
 *             --host unix:///run/probec-test-docker.sock
 *             --data-root /var/lib/probec-test-docker   images and layers (persist across runs)
 *             --exec-root /run/probec-test-docker       its managed containerd, runc state
 *             --pidfile /run/probec-test-docker.pid
 *             --containerd-namespace probec-test        in case it shares a system containerd
 *
 * {@link ensureDockerd} is idempotent and safe to call from several test
 * files at once: whoever finds the socket silent takes a lock file, checks
 * again, starts the daemon detached and waits for `/_ping`; the others wait
 * for the lock or the ping (daemon.ts). The bench (bench/docker.ts) uses
 * the same daemon through this module. The daemon stays up for later files and later
 * runs (a cold start takes well under a second here); stop it with
 * `kill $(cat /run/probec-test-docker.pid)`.
 *
 * Needs root and the `docker.io` package (dockerd, containerd, runc, the docker CLI).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDaemon } from "./daemon.js";
import { buildRootfs } from "./rootfs.js";

/** The test daemon's socket. */
export const TEST_DOCKER_SOCKET = "/run/probec-test-docker.sock";
/** The same, as a `DOCKER_HOST` value: pass it as `{ host }` to the client. */
export const TEST_DOCKER_HOST = `unix://${TEST_DOCKER_SOCKET}`;
/** Where the test daemon keeps images and layers. */
export const TEST_DOCKER_DATA_ROOT = "/var/lib/probec-test-docker";
/** The test daemon's stdout and stderr; its tail is quoted when it fails to start. */
export const TEST_DOCKER_LOG = "/var/log/probec-test-docker.log";

const EXEC_ROOT = "/run/probec-test-docker";
const PID_FILE = "/run/probec-test-docker.pid";
const LOCK_FILE = "/run/probec-test-docker.lock";

/** Whether `socket` answers `GET /_ping` with `OK` within `timeoutMs`. */
export function ping(socket = TEST_DOCKER_SOCKET, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { socketPath: socket, path: "/_ping", headers: { Host: "docker" }, timeout: timeoutMs };
    const req = request({ ...options, agent: false });
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

/**
 * Makes sure the test daemon answers, starting it if needed; returns its
 * `DOCKER_HOST` ({@link TEST_DOCKER_HOST}).
 *
 * @throws Error with dockerd's log tail when it does not answer within `timeoutMs`.
 */
export async function ensureDockerd(timeoutMs = 60_000): Promise<string> {
  await ensureDaemon(
    {
      name: "dockerd",
      command: "dockerd",
      args: [
        "--iptables=false",
        "--bridge=none",
        `--host=${TEST_DOCKER_HOST}`,
        `--data-root=${TEST_DOCKER_DATA_ROOT}`,
        `--exec-root=${EXEC_ROOT}`,
        `--pidfile=${PID_FILE}`,
        "--containerd-namespace=probec-test",
        "--containerd-plugins-namespace=probec-test-plugins",
      ],
      socket: TEST_DOCKER_SOCKET,
      pingWhat: "/_ping",
      ping: () => ping(),
      // No pidFile: dockerd writes PID_FILE itself (--pidfile).
      log: TEST_DOCKER_LOG,
      lockFile: LOCK_FILE,
      needsRoot: "the Docker tests need root: they start their own dockerd",
      installHint: "install the docker.io package (scripts/bootstrap.sh does)",
      prepare: () => mkdirSync(TEST_DOCKER_DATA_ROOT, { recursive: true }),
    },
    timeoutMs,
  );
  return TEST_DOCKER_HOST;
}

/** Runs the docker CLI against the test daemon; returns its trimmed stdout. */
export function docker(args: readonly string[], input?: Buffer): string {
  return execFileSync("docker", args, {
    env: { ...process.env, DOCKER_HOST: TEST_DOCKER_HOST },
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  }).trim();
}

/** `tar -C rootfsDir -c . | docker import - name`; returns the image id. */
export function importImage(name: string, rootfsDir: string): string {
  const tar = execFileSync("tar", ["-C", rootfsDir, "-c", "."], { maxBuffer: 256 * 1024 * 1024 });
  return docker(["import", "-", name], tar);
}

/**
 * The id of image `name`, imported from a fresh rootfs holding `binaries`
 * (default: `sleep`, enough for a container that stays up) unless the
 * daemon already has it. Reusing it keeps repeated runs from piling up
 * copies (each import is a new image: the files' mtimes differ); the image
 * is self-contained, so an old one stays valid after the host's libc changes.
 */
export function importBinariesImage(name: string, binaries: readonly string[] = ["/usr/bin/sleep"]): string {
  try {
    return docker(["image", "inspect", "--format", "{{.Id}}", name]);
  } catch {
    // Not there yet.
  }
  const dir = mkdtempSync(join(tmpdir(), "probec-rootfs-"));
  try {
    return importImage(name, buildRootfs(dir, binaries));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `docker run -d --network none --name name [...options] image ...cmd`, after
 * removing any leftover container of that name (from a run that was killed);
 * returns the full id. `options` go to `docker run` (`--label k=v`).
 */
export function runContainer(image: string, name: string, cmd: readonly string[], options: readonly string[] = []): string {
  removeContainers(name);
  return docker(["run", "-d", "--network", "none", "--name", name, ...options, image, ...cmd]);
}

/** `docker rm -f` each name that exists; never throws for one that does not. */
export function removeContainers(...names: string[]): void {
  for (const name of names) {
    try {
      docker(["rm", "-f", name]);
    } catch (error) {
      if (!/No such container/i.test(String((error as { stderr?: unknown }).stderr ?? ""))) throw error;
    }
  }
}
