/**
 * Starting a test daemon (dockerd, containerd, the podman service) on demand:
 * the part the three helpers share, each giving its command, socket, pidfile,
 * log and ping to {@link ensureDaemon}.
 *
 * The daemons are started detached and left running for later test files and
 * later runs, so several vitest workers (and the bench) may find one silent at
 * the same time. A lock file serialises the start: whoever creates it checks
 * the ping again and starts the daemon; the others wait for the lock or the
 * ping. A lock whose holder died (a killed test run) is broken, not waited on.
 *
 * Only node: imports here: the bench uses it too (through dockerd.ts), and
 * tsconfig.build.json compiles test/support for that.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Whether process `pid` exists. Signal 0 checks without delivering anything;
 * EPERM means it exists but belongs to someone else, which still counts.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Creates `lockFile` holding this process's pid; true when it did. False when
 * it exists: either a live process holds it, or its holder is dead and the
 * lock has just been removed, so the caller should loop and try again (after
 * another look at whether the daemon now answers).
 */
export function takeLock(lockFile: string): boolean {
  try {
    // "wx": exclusive create, so exactly one of several racing processes wins.
    const fd = openSync(lockFile, "wx");
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  let holder: number;
  try {
    holder = Number(readFileSync(lockFile, "utf8").trim());
  } catch {
    return false; // released meanwhile: try again
  }
  if (Number.isSafeInteger(holder) && holder > 0 && alive(holder)) return false;
  // A dead (or unreadable) holder would never release it: break the lock.
  rmSync(lockFile, { force: true });
  return false;
}

/** Removes `lockFile` (taken with {@link takeLock}); no error when it is already gone. */
export function releaseLock(lockFile: string): void {
  rmSync(lockFile, { force: true });
}

/** The size of `log` now, so that {@link logTail} later quotes only what a start wrote. */
export function logSize(log: string): number {
  return existsSync(log) ? statSync(log).size : 0;
}

/**
 * The last `lines` lines written to `log` since byte `from`, introduced by
 * the log's name, for an error message: the daemon's own reason for failing
 * is usually there, not in its exit code.
 */
export function logTail(log: string, from: number, lines = 30): string {
  if (!existsSync(log)) return `(no ${log})`;
  const text = readFileSync(log).subarray(from).toString("utf8").trimEnd();
  if (text === "") return `(nothing new in ${log})`;
  return `last lines of ${log}:\n${text.split("\n").slice(-lines).join("\n")}`;
}

/** What {@link ensureDaemon} needs to know about one daemon. */
export interface DaemonSpec {
  /** Short name for messages: "dockerd: not found on PATH", "dockerd: LOCK held by another process". */
  name: string;
  /** Name in the "exited before answering" and "did not answer" messages; defaults to {@link name}. */
  label?: string;
  /** The executable, looked up on PATH. */
  command: string;
  args: readonly string[];
  /** The socket it listens on (for messages; {@link ping} is what checks it). */
  socket: string;
  /** What the ping asks, for messages: "/_ping" gives "did not answer /_ping on SOCKET". */
  pingWhat?: string;
  /** Whether the daemon answers on its socket now. */
  ping: () => boolean | Promise<boolean>;
  /**
   * Where to record the daemon's pid (so that it can be stopped with
   * `kill $(cat PIDFILE)`). Leave it out for a daemon that writes its own
   * (dockerd --pidfile): dockerd refuses a pidfile naming a live process.
   */
  pidFile?: string;
  /** Its stdout and stderr, appended to; the new tail is quoted when it fails to start. */
  log: string;
  /** The lock file serialising starts; outside any directory {@link prepare} creates or cleans. */
  lockFile: string;
  /** The error message when not root (all of them need root). */
  needsRoot: string;
  /** Appended to "NAME: not found on PATH; " when the command is missing. */
  installHint: string;
  /** Runs under the lock just before spawning: directories, config, a dead daemon's stale socket. */
  prepare?: () => void;
  /** How often to ping while it starts; 100 ms unless given. */
  pollMs?: number;
}

/**
 * Makes sure the daemon of `spec` answers its ping, starting it if needed:
 * ping; if silent, take the lock (waiting while a live process holds it, and
 * returning as soon as the daemon answers), ping again, then spawn it detached
 * and poll the ping until it answers, exits, or `timeoutMs` (counted from the
 * call) passes. The daemon is left running. Safe to call from several
 * processes at once.
 *
 * @throws Error when not root, when the lock stays held, or when the daemon
 *   cannot be run, exits, or stays silent; the last two quote its log's tail.
 */
export async function ensureDaemon(spec: DaemonSpec, timeoutMs: number): Promise<void> {
  if (await spec.ping()) return;
  if (process.getuid?.() !== 0) throw new Error(spec.needsRoot);
  const deadline = Date.now() + timeoutMs;
  while (!takeLock(spec.lockFile)) {
    // Someone else is starting it.
    if (await spec.ping()) return;
    if (Date.now() > deadline) throw new Error(`${spec.name}: ${spec.lockFile} held by another process for ${timeoutMs} ms`);
    await sleep(100);
  }
  try {
    // It may have come up between our first ping and taking the lock.
    if (await spec.ping()) return;
    const logStart = logSize(spec.log);
    const daemon = startDetached(spec);
    const label = spec.label ?? spec.name;
    const what = spec.pingWhat === undefined ? "" : ` ${spec.pingWhat}`;
    while (Date.now() < deadline) {
      if (await spec.ping()) return;
      if (daemon.failure !== undefined) throw new Error(`${daemon.failure}\n${logTail(spec.log, logStart)}`);
      await sleep(spec.pollMs ?? 100);
    }
    throw new Error(`${label} did not answer${what} on ${spec.socket} within ${timeoutMs} ms\n${logTail(spec.log, logStart)}`);
  } finally {
    releaseLock(spec.lockFile);
  }
}

/** Spawns the daemon of `spec` detached; `failure` is set if it cannot be run or exits. */
function startDetached(spec: DaemonSpec): { failure: string | undefined } {
  spec.prepare?.();
  const log = openSync(spec.log, "a");
  const daemon: { failure: string | undefined } = { failure: undefined };
  // detached + unref: the daemon outlives this process (and vitest's workers), in its own process group.
  const child = spawn(spec.command, spec.args, { detached: true, stdio: ["ignore", log, log] });
  child.on("error", (error: NodeJS.ErrnoException) => {
    daemon.failure = error.code === "ENOENT" ? `${spec.name}: not found on PATH; ${spec.installHint}` : `${spec.name}: cannot run it: ${error.message}`;
  });
  child.on("exit", (code, signal) => {
    const what = spec.pingWhat === undefined ? "" : ` ${spec.pingWhat}`;
    daemon.failure ??= `${spec.label ?? spec.name} exited (${code ?? signal}) before answering${what} on ${spec.socket}`;
  });
  if (spec.pidFile !== undefined && child.pid !== undefined) writeFileSync(spec.pidFile, `${child.pid}\n`);
  child.unref();
  // The child has its own copy of the descriptor.
  closeSync(log);
  return daemon;
}
