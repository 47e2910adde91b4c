/**
 * A hang guard for synchronous code.
 *
 * The sweep is synchronous: if a crafted file sends a parser into an
 * endless loop, no timer of the test's own thread can fire, and vitest
 * cannot interrupt it. So a worker thread watches a heartbeat in shared
 * memory instead. The fuzz loop writes the current case's description and
 * bumps the heartbeat before each case; if the heartbeat stops for
 * `limitMs`, the worker writes the stuck case (seed, case number, mutations)
 * straight to file descriptor 2 and kills the process, so the run fails
 * loudly with a reproducible description instead of hanging CI.
 */
import { Worker } from "node:worker_threads";

const DESCRIPTION_BYTES = 16 * 1024;

// Plain CommonJS, evaluated in the worker (no TypeScript there).
const WATCHER = `
const { workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const state = new Int32Array(workerData.shared, 0, 2);
const text = new Uint8Array(workerData.shared, 8);
let last = -1;
let since = Date.now();
setInterval(() => {
  const beat = Atomics.load(state, 0);
  if (beat !== last) { last = beat; since = Date.now(); return; }
  if (beat === 0 || Date.now() - since < workerData.limitMs) return;
  const length = Atomics.load(state, 1);
  const described = Buffer.from(text.subarray(0, length)).toString("utf8");
  writeSync(2, "\\nFUZZ HANG: no progress for " + workerData.limitMs + " ms; stuck in " + described + "\\n");
  process.kill(process.pid, "SIGKILL");
}, 200);
`;

/** Watches a heartbeat; see the module comment. */
export class Watchdog {
  readonly #worker: Worker;
  readonly #state: Int32Array;
  readonly #text: Uint8Array;
  readonly #encoder = new TextEncoder();

  constructor(limitMs: number) {
    const shared = new SharedArrayBuffer(8 + DESCRIPTION_BYTES);
    this.#state = new Int32Array(shared, 0, 2);
    this.#text = new Uint8Array(shared, 8);
    this.#worker = new Worker(WATCHER, { eval: true, workerData: { shared, limitMs } });
    this.#worker.unref();
  }

  /** Records that a new unit of work, described by `description`, starts now. */
  beat(description: string): void {
    const { written } = this.#encoder.encodeInto(description, this.#text);
    Atomics.store(this.#state, 1, written);
    Atomics.add(this.#state, 0, 1);
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    Atomics.store(this.#state, 0, 0);
    await this.#worker.terminate();
  }
}
