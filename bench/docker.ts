/**
 * The containers for the bench's target tasks (d) and (e), on the tests' own
 * Docker daemon.
 *
 * The daemon is test/support/dockerd.ts's (tsconfig.build.json compiles
 * test/support with the bench for this): socket /run/probec-test-docker.sock,
 * started with its lock file if silent, so that the bench and the tests share
 * one daemon and never start two. A daemon that already answers is reused;
 * one the bench starts is left running, as the tests leave theirs (stop it
 * with `kill $(cat /run/probec-test-docker.pid)`). Use `ensureDockerd`,
 * `docker` and `TEST_DOCKER_HOST` from there.
 *
 * The bench's image is `probec-bench-sleep`: /usr/bin/sleep plus what `ldd`
 * says it loads (libc, ld.so), about 2 MiB, imported once and reused.
 */
import { spawn, spawnSync } from "node:child_process";
import { importBinariesImage, TEST_DOCKER_HOST } from "../test/support/dockerd.js";

export const BENCH_IMAGE = "probec-bench-sleep";

/** `DOCKER_HOST` for the docker CLI run here: the tests' daemon. */
const env = { ...process.env, DOCKER_HOST: TEST_DOCKER_HOST };

/** The docker CLI against the tests' daemon, asynchronously (for parallel `docker run`); rejects with stderr. */
function dockerAsync(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { env, stdio: ["ignore", "pipe", "pipe"] });
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
  return importBinariesImage(BENCH_IMAGE, ["/usr/bin/sleep"]);
}

/** `docker rm -f` of all `names` in one command; never throws (missing ones are fine). */
export function removeContainers(names: readonly string[]): void {
  if (names.length === 0) return;
  spawnSync("docker", ["rm", "-f", ...names], { env, stdio: "ignore", timeout: 120_000 });
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
      await Promise.all(
        names.slice(i, i + parallel).map((name) => dockerAsync(["run", "-d", "--network", "none", "--name", name, BENCH_IMAGE, "/usr/bin/sleep", "600"])),
      );
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
