/**
 * Fixture processes, in containers or on the host, and their status files
 * (test/attach/fixtures/fixture.h): start one, wait for `ready`, run a
 * round with SIGUSR1 and wait for its line.
 *
 * A container runs its fixture as pid 1 with the status file's directory
 * bind-mounted at /out, `--network none` (runContainer) and whatever extra
 * `docker run` options the test gives. Everything started here is removed
 * by {@link Targets.cleanup} (call it from afterAll).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { docker, removeContainers, runContainer } from "../../../support/dockerd.js";

/** A status file a fixture appends to. */
export class StatusFile {
  constructor(readonly path: string) {}

  /** Every line so far. */
  lines(): string[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, "utf8")
      .split("\n")
      .filter((l) => l !== "");
  }

  /** Waits until a line matches `re` (searching from line `from`); returns its match. */
  async waitFor(re: RegExp, what: string, from = 0, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines().slice(from)) {
        const m = re.exec(line);
        if (m !== null) return m;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${re}) in ${this.path}; it has:\n${this.lines().join("\n")}`);
      await sleep(20);
    }
  }
}

/** One running fixture. */
export interface Target {
  /** Its pid in probec's (the host's) pid namespace. */
  readonly pid: number;
  /** Its container's name, or undefined on the host. */
  readonly container: string | undefined;
  /** Its container's full id, or undefined on the host. */
  readonly containerId: string | undefined;
  readonly status: StatusFile;
  /**
   * Sends SIGUSR1 and waits for the round's closing line (`round R …`);
   * returns the lines the round wrote, closing line last.
   */
  round(): Promise<string[]>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits (polling every 20 ms, up to `timeoutMs`) until `check` holds. */
export async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Starts and removes fixture processes for one test file. */
export class Targets {
  private readonly containers: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly dirs: tmp.DirResult[] = [];

  /** A fresh directory for status files (removed by cleanup). */
  statusDir(): string {
    const dir = tmp.dirSync({ prefix: "probec-attach-out-", unsafeCleanup: true, mode: 0o755 });
    this.dirs.push(dir);
    return dir.name;
  }

  /** `docker run` `image` `/app/<app> /out/status ...args` as container `name`; resolves once it is ready. */
  async container(image: string, name: string, app: string, args: readonly string[], options: readonly string[] = []): Promise<Target> {
    const dir = this.statusDir();
    this.containers.push(name);
    const id = runContainer(image, name, [`/app/${app}`, "/out/status", ...args], ["-v", `${dir}:/out`, ...options]);
    const status = new StatusFile(join(dir, "status"));
    await status.waitFor(/^ready$/, `${app} in container ${name} to be ready`);
    const pid = Number(docker(["inspect", "--format", "{{.State.Pid}}", id]));
    return target(pid, name, id, status);
  }

  /**
   * `docker exec -d name PROGRAM /out/<statusName> ...args`: one more process
   * in a running container; PROGRAM is `/app/<app>`, or `app` itself when it
   * is an absolute path.
   */
  async exec(container: Target, app: string, statusName: string, args: readonly string[]): Promise<Target> {
    const program = app.startsWith("/") ? app : `/app/${app}`;
    const status = new StatusFile(join(container.status.path, "..", statusName));
    docker(["exec", "-d", container.container!, program, `/out/${statusName}`, ...args]);
    await status.waitFor(/^ready$/, `${program} (docker exec in ${container.container}) to be ready`);
    const pid = pidRunning(container.pid, program, `/out/${statusName}`);
    return target(pid, container.container, container.containerId, status);
  }

  /** Spawns `file STATUS ...args` on the host; resolves once it is ready. */
  async host(file: string, args: readonly string[]): Promise<Target> {
    const status = new StatusFile(join(this.statusDir(), "status"));
    const child = spawn(file, [status.path, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    this.children.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, "exit").then(([code, signal]) => {
      throw new Error(`${file} exited (${String(code ?? signal)}) before it was ready: ${stderr}`);
    });
    await Promise.race([status.waitFor(/^ready$/, `${file} to be ready`), exited]);
    exited.catch(() => undefined);
    return target(child.pid!, undefined, undefined, status);
  }

  /** Removes every container and kills every host child started here; removes the status directories. */
  async cleanup(): Promise<void> {
    removeContainers(...this.containers);
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      }
    }
    for (const dir of this.dirs) dir.removeCallback();
  }
}

function target(pid: number, container: string | undefined, containerId: string | undefined, status: StatusFile): Target {
  return {
    pid,
    container,
    containerId,
    status,
    async round() {
      const before = status.lines().length;
      process.kill(pid, "SIGUSR1");
      await status.waitFor(/^round \d+/, `a round of pid ${pid}`, before);
      const lines = status.lines().slice(before);
      return lines.slice(0, lines.findIndex((l) => l.startsWith("round ")) + 1);
    },
  };
}

/** The pid of the process in `ancestor`'s pid namespace whose command line holds every word of `words`. */
function pidRunning(ancestor: number, ...words: string[]): number {
  const ns = readlinkSync(`/proc/${ancestor}/ns/pid`);
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (words.every((w) => cmdline.includes(w)) && readlinkSync(`/proc/${entry}/ns/pid`) === ns) return Number(entry);
    } catch {
      // It exited while we looked.
    }
  }
  throw new Error(`no process running ${words.join(" ")} in the pid namespace of ${ancestor}`);
}
