/**
 * Golden-file comparison for the DSL tests:
 *
 *     npx vitest run test/dsl                      # compare
 *     UPDATE_GOLDEN=1 npx vitest run test/dsl      # rewrite them (then review the diff)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Asserts that `actual` equals the whole of `test/dsl/golden/<name>`, or rewrites it under UPDATE_GOLDEN=1. */
export function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (UPDATE) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npx vitest run test/dsl`).toBe(true);
  expect(actual).toBe(readFileSync(file, "utf8"));
}
