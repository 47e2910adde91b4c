#!/usr/bin/env node
/**
 * The `probec` executable: the only module that touches `process`.
 */
import { run } from "./run.js";

process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, process.env);
