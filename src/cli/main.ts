#!/usr/bin/env node
/**
 * The `probec` executable: the only module that touches `process`.
 */
import tmp from "tmp";
import { run } from "./run.js";

// process.exit on a signal runs 'exit' handlers only: with this, tmp's removes what is left (probec check's copies).
tmp.setGracefulCleanup();

const argv = process.argv.slice(2);
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
