/**
 * compile() + attach() for the end-to-end tests: a probe file compiled
 * against the live machine (the tests' dockerd for docker scopes), then
 * attached with the real helper, its events collected as they come.
 *
 * Nothing here decides what a test expects: {@link Trace.waitForEvents}
 * only waits, and the tests count and compare every event themselves.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { expect } from "vitest";
import {
  attach,
  compile,
  renderDiagnostics,
  type AttachMode,
  type AttachPlan,
  type Attachment,
  type AttachSummary,
  type ProbeEvent,
} from "../../../../src/index.js";
import type { CompileOptions } from "../../../../src/compile/compile.js";
import { sleep } from "./targets.js";

const schema = JSON.parse(readFileSync(fileURLToPath(new URL("../../../../schema/attach-plan.schema.json", import.meta.url)), "utf8")) as object;
const validatePlan = new Ajv2020({ allErrors: true, strict: true }).compile<AttachPlan>(schema);

/** A phase slower than this is reported on stderr: on a loaded machine it tells a slow compile from a slow detach. */
const SLOW_PHASE_MS = 5_000;

/** Runs `phase`, and says on stderr how long it took when that was more than {@link SLOW_PHASE_MS}. */
async function timed<T>(what: string, phase: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await phase();
  } finally {
    const ms = Date.now() - start;
    if (ms > SLOW_PHASE_MS) console.warn(`e2e: ${what} took ${ms} ms`);
  }
}

/** Compiles `source` (as file `<name>.probe`); fails the test with the rendered diagnostics on any error. */
export async function compilePlan(name: string, source: string, options: CompileOptions = {}): Promise<AttachPlan> {
  const file = `${name}.probe`;
  const { plan, diagnostics } = await timed(`compiling ${file}`, () => compile(source, { ...options, file }));
  const errors = diagnostics.filter((d) => d.severity === "error");
  expect(errors, renderDiagnostics(source, file, errors)).toEqual([]);
  expect(plan).toBeDefined();
  const valid = validatePlan(plan);
  expect(validatePlan.errors ?? [], JSON.stringify(validatePlan.errors)).toEqual([]);
  expect(valid).toBe(true);
  return plan!;
}

/** A running attachment and every event it has delivered so far. */
export class Trace {
  readonly events: ProbeEvent[] = [];
  private readonly consumed: Promise<void>;
  private consumeError: unknown;

  private constructor(
    readonly plan: AttachPlan,
    readonly attachment: Attachment,
  ) {
    this.consumed = (async () => {
      try {
        for await (const event of attachment) this.events.push(event);
      } catch (error) {
        this.consumeError = error;
      }
    })();
  }

  /** Attaches `plan` and waits for `ready`; an attach error fails the test with the helper's own message. */
  static async start(plan: AttachPlan, mode?: AttachMode): Promise<Trace> {
    const trace = new Trace(plan, attach(plan, mode === undefined ? {} : { mode }));
    try {
      await timed("attaching (until ready)", () => trace.attachment.ready);
    } catch (error) {
      await trace.attachment.close().catch(() => undefined);
      throw error;
    }
    return trace;
  }

  /** The statuses of one type. */
  statuses(type: string): Record<string, unknown>[] {
    return this.attachment.statuses.filter((s) => s.type === type) as Record<string, unknown>[];
  }

  /** Events of probe `id` (every probe when undefined). */
  of(id?: string): ProbeEvent[] {
    return id === undefined ? [...this.events] : this.events.filter((e) => e.probeId === id);
  }

  /**
   * Waits until probe `id` has at least `count` events, then `settleMs`
   * more so that an extra event (which the test must see to reject) has
   * time to arrive; returns the probe's events.
   */
  async waitForEvents(id: string | undefined, count: number, { timeoutMs = 10_000, settleMs = 300 } = {}): Promise<ProbeEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.of(id).length < count) {
      if (this.consumeError !== undefined) throw this.consumeError;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms: probe ${id ?? "(any)"} has ${this.of(id).length} of ${count} events; statuses: ${JSON.stringify(this.attachment.statuses)}`,
        );
      }
      await sleep(20);
    }
    await sleep(settleMs);
    return this.of(id);
  }

  /** Detaches and waits for the helper to exit; the helper must say it detached on SIGTERM. Returns its summary. */
  async close(): Promise<AttachSummary> {
    const summary = await timed("detaching (close)", () => this.attachment.close());
    await this.consumed;
    if (this.consumeError !== undefined) throw this.consumeError;
    expect(summary.reason, "the helper's detached reason").toBe("SIGTERM");
    return summary;
  }
}
