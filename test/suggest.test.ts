/** "Did you mean …?" (src/suggest.ts): nearest names first, and never the name that failed (issue 10). */
import { expect, test } from "vitest";
import { editDistance, nearest } from "../src/suggest.js";

test("a transposition is one edit", () => {
  expect(editDistance("lsit", "list")).toBe(1);
});

test("nearest first, within a third of the name's length", () => {
  expect(nearest("libzookeper_mt", ["libzookeeper_mt", "libz", "libzookeeper_st"])).toEqual(["libzookeeper_mt", "libzookeeper_st"]);
});

test("the failed name itself is never proposed, even when it was seen among the candidates", () => {
  expect(nearest("postgres", ["postgres", "postgre", "postgres"])).toEqual(["postgre"]);
  expect(nearest("postgres", ["postgres"])).toEqual([]);
});
