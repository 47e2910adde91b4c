#!/usr/bin/env node
/**
 * The `probec` executable: the only module that touches `process`.
 * `npm run build` bundles it (scripts/bundle-cli.mjs) into dist/cli/, the
 * package's "bin"; dist/src/cli/main.js runs the same code unbundled.
 */
import { run } from "./run.js";

const argv = process.argv.slice(2);
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
