/**
 * The `probec` a user runs, the package's bin dist/cli/probec.cjs (the
 * esbuild bundle `npm run build` makes), as a child process: started, told
 * to stop with SIGINT as Ctrl-C would, and read back whole.
 *
 * {@link startProbec} fails with the fix when the bundle is missing or older
 * than a source file: a stale bundle would test yesterday's code.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./targets.js";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
/** The package's bin. */
export const PROBEC_BIN = join(REPO, "dist/cli/probec.cjs");
const BUNDLE = join(REPO, "dist/cli/probec.bundle.cjs");

/** Throws, naming `npm run build`, when the bundle is older than any file under src/ or grammar/. */
export function checkBundleFresh(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`);
  const built = statSync(BUNDLE).mtimeMs;
  const newer: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (statSync(join(REPO, rel)).mtimeMs > built) newer.push(rel);
    }
  };
  walk("src");
  walk("grammar");
  if (newer.length > 0)
    throw new Error(`dist/cli/probec.bundle.cjs is older than ${newer.slice(0, 3).join(", ")}${newer.length > 3 ? ", …" : ""}: run npm run build`);
}

/** What a finished run printed. */
export interface ProbecRun {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `probec`. */
export interface ProbecChild {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until `re` matches stderr (or stdout with `on: "stdout"`); fails with both outputs when it exits or times out first. */
  waitFor(re: RegExp, what: string, options?: { on?: "stdout" | "stderr"; timeoutMs?: number }): Promise<RegExpExecArray>;
  /** SIGINT (Ctrl-C: detach, final report, summary) and the whole run once it exited. */
  interrupt(): Promise<ProbecRun>;
  /** Waits for it to exit on its own (`--duration`, `--count`). */
  finished(): Promise<ProbecRun>;
  /** SIGKILL if it still runs (for finally blocks). */
  kill(): void;
}

/** Spawns `node dist/cli/probec.cjs ...argv` in `cwd` with `env` added to the environment. */
export function startProbec(argv: readonly string[], env: Record<string, string> = {}, cwd = REPO): ProbecChild {
  checkBundleFresh();
  const child = spawn(process.execPath, [PROBEC_BIN, ...argv], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const done = async (): Promise<ProbecRun> => ({ code: await exited, stdout: out, stderr: err });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re, what, { on = "stderr", timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(on === "stderr" ? err : out);
        if (m !== null) return m;
        if (!running() || Date.now() > deadline) {
          throw new Error(
            `probec ${argv.join(" ")}: ${running() ? `timed out after ${timeoutMs} ms` : "exited"} before ${what}\nstdout:\n${out}\nstderr:\n${err}`,
          );
        }
        await sleep(20);
      }
    },
    async interrupt() {
      if (running()) child.kill("SIGINT");
      return done();
    },
    finished: done,
    kill() {
      if (running()) child.kill("SIGKILL");
    },
  };
}
