/**
 * Child processes for the end-to-end target tests: started, waited for
 * (`ready` on stdout), and killed and reaped by {@link killAll} (call it from
 * afterAll, which vitest runs even when beforeAll or a test failed).
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";

/** Debian's python3.11: it has USDT probes with semaphores (`python3` on PATH is a pyenv shim). */
export const PYTHON = "/usr/bin/python3.11";

export class Children {
  private readonly started: ChildProcess[] = [];

  /** Spawns `file args` and resolves once it prints `ready` (the script then blocks until killed). */
  async startReady(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ChildProcess> {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], ...options });
    this.started.push(child);
    let out = "";
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("ready\n")) resolve();
      });
      child.once("exit", (code, signal) => reject(new Error(`${file} exited (${code ?? signal}) before it was ready: ${err}`)));
      child.once("error", reject);
    });
    return child;
  }

  /** Spawns `file args` with no handshake; resolves once it has been spawned. */
  async start(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ChildProcess> {
    const child = spawn(file, args, { stdio: ["ignore", "ignore", "inherit"], ...options });
    this.started.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    return child;
  }

  /** SIGKILLs every child still running and waits for it to be reaped. */
  async killAll(): Promise<void> {
    for (const child of this.started) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      }
    }
  }
}

/** Polls `ok` every 25 ms for up to 5 s. */
export async function until(what: string, ok: () => boolean, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    if (child !== undefined && child.exitCode !== null) throw new Error(`the child exited (${child.exitCode}) before ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting until ${what}`);
}
