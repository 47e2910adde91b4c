/**
 * layerOf against a real overlay mount: the kernel's merged view is the
 * oracle for which layer holds each file, after copy-ups, deletions
 * (whiteouts) and a replaced directory (opaque).
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layerOf } from "../../src/discovery/layers.js";

let dir: tmp.DirResult;
let merged: string;
let upper: string;
let lower1: string;
let lower2: string;

function write(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

beforeAll(() => {
  dir = tmp.dirSync({ unsafeCleanup: true });
  [merged, upper, lower1, lower2] = ["merged", "upper", "lower1", "lower2"].map((d) => join(dir.name, d)) as [string, string, string, string];
  for (const d of [merged, upper, lower1, lower2, join(dir.name, "work")]) mkdirSync(d, { recursive: true });
  // lower2 is the image's bottom layer, lower1 a later one.
  write(join(lower2, "usr/lib/libbase.so"), "lower2: base");
  write(join(lower2, "usr/lib/libover.so"), "lower2: over");
  write(join(lower1, "usr/lib/libover.so"), "lower1: over");
  write(join(lower2, "usr/lib/libgone.so"), "lower2: gone");
  write(join(lower2, "usr/lib/libcopied.so"), "lower2: copied");
  write(join(lower2, "opt/app/libold.so"), "lower2: old app");
  write(join(lower2, "srv/data/file"), "lower2: a directory's file");
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower1}:${lower2},upperdir=${upper},workdir=${join(dir.name, "work")}`, merged]);
  // Changes made through the merged view, as a container would make them:
  appendFileSync(join(merged, "usr/lib/libcopied.so"), " + written"); // copy-up to upper
  rmSync(join(merged, "usr/lib/libgone.so")); // whiteout in upper
  rmSync(join(merged, "opt/app"), { recursive: true }); // the directory is replaced…
  write(join(merged, "opt/app/libnew.so"), "upper: new app"); // …by an opaque one
  rmSync(join(merged, "srv/data"), { recursive: true });
  writeFileSync(join(merged, "srv/data"), "upper: a file where a directory was");
});

afterAll(() => {
  execFileSync("umount", [merged]);
  dir.removeCallback();
});

const layers = (): string[] => [upper, lower1, lower2];

describe("layerOf agrees with the kernel's merged view", () => {
  it.each([
    ["/usr/lib/libbase.so", 2, "lower2: base"],
    ["/usr/lib/libover.so", 1, "lower1: over"],
    ["/usr/lib/libcopied.so", 0, "lower2: copied + written"],
    ["/opt/app/libnew.so", 0, "upper: new app"],
    ["/srv/data", 0, "upper: a file where a directory was"],
  ])("%s is in layer %i", (path, index, content) => {
    const hit = layerOf(path, layers());
    expect(hit?.index).toBe(index);
    expect(hit?.layer).toBe(layers()[index]);
    expect(readFileSync(hit?.hostPath ?? "", "utf8")).toBe(content);
    expect(readFileSync(join(merged, path), "utf8")).toBe(content);
  });

  it.each([
    ["/usr/lib/libgone.so", "a whiteout in the upper layer deletes it"],
    ["/opt/app/libold.so", "the opaque directory hides the lower layers' copy"],
    ["/srv/data/file", "a file in the upper layer shadows the lower directory"],
    ["/usr/lib/libnever.so", "no layer has it"],
  ])("%s is absent: %s", (path) => {
    expect(layerOf(path, layers())).toBeUndefined();
    expect(() => readFileSync(join(merged, path))).toThrow(/ENOENT|ENOTDIR/);
  });
});
