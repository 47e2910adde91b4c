/**
 * The streamed table of `probec run`/`probec trace` (src/cli/event-output.ts)
 * on hand-made events: the printer is pure formatting, so its cases need no
 * kernel. The real-event paths are in test/cli-run.test.ts.
 */
import { describe, expect, it } from "vitest";
import { JsonPrinter, TablePrinter } from "../src/cli/event-output.js";
import type { AttachPlan, PlanProbe, PlanProgram, ProbeEvent, StackKey } from "../src/index.js";

/** Only what the printer reads of a plan: ids and programs. */
function planOf(programs: Record<string, Partial<PlanProgram>>): AttachPlan {
  const probes = Object.entries(programs).map(
    ([id, program]) => ({ id, program: { fields: [], filter: null, format: null, aggregates: [], strlen: 128, ...program } }) as unknown as PlanProbe,
  );
  return { planVersion: 2, probes };
}

function event(probeId: string, seconds: number, fields: ProbeEvent["fields"]): ProbeEvent {
  return {
    probeId,
    entry: 0,
    cookie: 1,
    side: "entry",
    pid: 42,
    tid: 42,
    cpu: 0,
    comm: "svc",
    container: null,
    timestamp: BigInt(seconds * 1e9),
    latency: null,
    retval: null,
    fields,
  };
}

const int = (name: string) => ({ name, type: "int" as const, expr: { op: "arg" as const, index: 0 } });

describe("TablePrinter", () => {
  it("gives a probe's fields their own columns when every printing probe has the same fields", () => {
    const printer = new TablePrinter(planOf({ probe1: { fields: [int("id")] } }), 0n);
    expect(printer.print(event("probe1", 1, { id: 7n })) + printer.print(event("probe1", 2, { id: 12345n }))).toBe(
      [
        "      TIME  PROBE       PID  COMM                   ID",
        "  1.000000  probe1       42  svc                     7",
        "  2.000000  probe1       42  svc                 12345",
        "",
      ].join("\n"),
    );
  });

  it("prints only the formatted text when every printing probe has a format", () => {
    const printer = new TablePrinter(planOf({ probe1: { fields: [int("id")], format: "request {id}" } }), 0n);
    expect(printer.print(event("probe1", 1, { id: 7n }))).toBe("request 7\n");
  });

  it("keeps one aligned table when formatted and plain probes are mixed: the text goes in FIELDS", () => {
    const printer = new TablePrinter(planOf({ probe1: { fields: [int("id")], format: "request {id}" }, probe2: { fields: [int("id")] } }), 0n);
    const out = printer.print(event("probe1", 1, { id: 7n })) + printer.print(event("probe2", 2, { id: 8n }));
    expect(out).toBe(
      [
        "      TIME  PROBE       PID  COMM             FIELDS",
        "  1.000000  probe1       42  svc              request 7",
        "  2.000000  probe2       42  svc              id=8",
        "",
      ].join("\n"),
    );
  });

  it("a ustack field: its cell gives the frame count, its frames follow the row, indented, innermost first", () => {
    const stackField = { name: "stack", type: "stack" as const, expr: { op: "ustack" as const, frames: 32 } };
    const printer = new TablePrinter(planOf({ probe1: { fields: [int("id"), stackField] } }), 0n);
    const stack: StackKey = {
      kind: "stack",
      pid: 42,
      frames: ["c+0xb", "b+0x14", "main+0x32"],
      functions: ["c", "b", "main"],
      addresses: [0x1139n, 0x1160n, 0x1190n],
    };
    expect(printer.print(event("probe1", 1, { id: 7n, stack })) + printer.print(event("probe1", 2, { id: 8n, stack: null }))).toBe(
      [
        "      TIME  PROBE       PID  COMM                   ID  STACK",
        "  1.000000  probe1       42  svc                     7  [3 frames]",
        "    c+0xb",
        "    b+0x14",
        "    main+0x32",
        "  2.000000  probe1       42  svc                     8  (fault)",
        "",
      ].join("\n"),
    );
    expect(JSON.parse(new JsonPrinter().print(event("probe1", 1, { id: 7n, stack }))).stack).toEqual({
      pid: 42,
      frames: ["c+0xb", "b+0x14", "main+0x32"],
      addresses: ["0x1139", "0x1160", "0x1190"],
    });
  });
});
