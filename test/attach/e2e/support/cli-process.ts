/**
 * The built CLI (dist/src/cli/main.js) as a child process, for the test
 * that SIGKILLs it: an in-process run cannot be killed.
 *
 * The tests run from sources, the child from dist: {@link builtCli} fails
 * with the fix when dist is missing or older than any source file (npm
 * test's bootstrap builds it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));

/** The path of dist/src/cli/main.js, after checking that every src/**\/*.ts has an up-to-date .js in dist. */
export function builtCli(): string {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        const js = join(REPO, "dist", rel.replace(/\.ts$/, ".js"));
        if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(REPO, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  walk("src");
  if (stale.length > 0) {
    throw new Error(
      `dist is missing or older than ${stale.length} source file(s) (${stale.slice(0, 3).join(", ")}${stale.length > 3 ? ", …" : ""}): run npm run build`,
    );
  }
  return join(REPO, "dist/src/cli/main.js");
}

/** A running `probec` child and what it printed so far. */
export interface CliChild {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code or signal name. */
  readonly exited: Promise<number | string>;
}

/** Spawns `node dist/src/cli/main.js ...argv` with `env` added to the environment. */
export function spawnCli(argv: readonly string[], env: Record<string, string>): CliChild {
  const child = spawn(process.execPath, [builtCli(), ...argv], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}
