#!/usr/bin/env node
/**
 * `probec` unbundled: tsc's output of the CLI, what the tests spawn. The
 * package's bin is the bundle of ./process.ts that `npm run build` makes
 * (dist/cli/probec.cjs, scripts/bundle-cli.mjs); both run the same code.
 */
import { runProcess } from "./process.js";

await runProcess(process.argv.slice(2));
