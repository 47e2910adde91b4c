/**
 * The AttachPlan contract and the closed sets it names, defined once:
 * probe kinds, path strategies, runtimes, captures. Everything upstream
 * (the DSL, the compiler) and downstream (the attacher, the printers)
 * takes its lists from here; test/plan/drift.test.ts checks the copies
 * that cannot import it (the JSON schema, the native code).
 *
 * Pure: no I/O, no `node:*` — the DSL may import it.
 */
export * from "./aggregates.js";
export * from "./captures.js";
export * from "./code.js";
export * from "./kinds.js";
export * from "./runtimes.js";
export * from "./strategies.js";
export * from "./types.js";
