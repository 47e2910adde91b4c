/**
 * probec as a process: signals, temporary-file cleanup and the exit code
 * around `run`. The only module that touches `process`. Two executables
 * call it: dist/src/cli/main.js (tsc's output, what the tests spawn) and the
 * package's bin dist/cli/probec.cjs, which runs the esbuild bundle of this
 * module with V8's code cache (scripts/bundle-cli.mjs, issue 13). It has no
 * top-level await, so that it bundles as a CommonJS script, the only kind
 * Node 20 can run from a code cache.
 */
import { run } from "./run.js";

export { run };

/** Runs `probec ...argv` in this process and sets `process.exitCode`. */
export async function runProcess(argv: readonly string[]): Promise<void> {
  // process.exit on a signal runs 'exit' handlers only: with this, tmp's removes what is left (probec check's
  // copies). Only `check` makes temporary files; the others do not pay for loading tmp.
  if (argv[0] === "check") (await import("tmp")).default.setGracefulCleanup();
  // `run` and `trace` detach and print their summary on the first SIGINT or SIGTERM; a second one exits
  // at once (the helper still detaches on its own: it has PR_SET_PDEATHSIG). Other commands just exit.
  const interruptible = argv[0] === "run" || argv[0] === "trace";
  const interrupt = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (!interruptible || interrupt.signal.aborted) process.exit(130);
      interrupt.abort();
    });
  }
  process.exitCode = await run(argv, { stdout: process.stdout, stderr: process.stderr, signal: interrupt.signal }, process.env);
}
