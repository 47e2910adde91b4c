/**
 * A musl image: a program and a library built with `musl-gcc` at test
 * time. musl resolves libraries its own way (PITFALLS 23): libc, libm, …
 * are its loader itself, and `/etc/ld-musl-x86_64.path` REPLACES the
 * default directories, so a library of the same name in /usr/lib (a
 * decoy without the function) must not be the one checked.
 *
 * Needs `musl-gcc` (Debian: musl-tools, musl-dev; scripts/bootstrap.sh installs them).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkImage } from "../../src/index.js";
import { tarOf, writeOciLayout } from "../support/image.js";

let dir: string;
let layout: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "probec-musl-image-"));
  writeFileSync(join(dir, "app.c"), "#include <stdlib.h>\nvoid probe_me(void) { free(malloc(1)); }\nint main(void) { probe_me(); return 0; }\n");
  writeFileSync(join(dir, "thing.c"), "int thing_fn(int x) { return x + 1; }\n");
  writeFileSync(join(dir, "decoy.c"), "int other_fn(int x) { return x - 1; }\n");
  execFileSync("musl-gcc", ["-O1", "-o", join(dir, "app"), join(dir, "app.c")]);
  execFileSync("musl-gcc", ["-O1", "-shared", "-fPIC", "-o", join(dir, "libthing.so"), join(dir, "thing.c")]);
  execFileSync("musl-gcc", ["-O1", "-shared", "-fPIC", "-o", join(dir, "decoy.so"), join(dir, "decoy.c")]);
  const interp = execFileSync("readelf", ["-l", join(dir, "app")], { encoding: "utf8" }).match(/interpreter: ([^\]]+)\]/)?.[1];
  if (interp !== "/lib/ld-musl-x86_64.so.1") throw new Error(`musl-gcc made a program with interpreter ${String(interp)}`);
  const file = (name: string): Buffer => readFileSync(join(dir, name));
  layout = writeOciLayout(join(dir, "oci"), [
    {
      architecture: "amd64",
      layers: [
        {
          tar: tarOf([
            { name: "lib/ld-musl-x86_64.so.1", type: "file", data: readFileSync("/lib/ld-musl-x86_64.so.1") },
            { name: "usr/bin/app", type: "file", data: file("app") },
            { name: "opt/musl/lib/libthing.so", type: "file", data: file("libthing.so") },
            { name: "usr/lib/libthing.so", type: "file", data: file("decoy.so") },
            { name: "etc/ld-musl-x86_64.path", type: "file", data: Buffer.from("/opt/musl/lib\n") },
          ]),
          compression: "gzip",
        },
      ],
      config: { cmd: ["app"] },
    },
  ]);
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("a musl image", () => {
  it("libc is the loader itself; other libraries come from the path file, never the default directories", async () => {
    const r = await checkImage(layout, ["exe:probe_me", "libc:malloc", "libm:free", "libthing:thing_fn"]);
    expect(r.checks.map((c) => [c.target, c.status, c.object?.path, c.object?.how])).toEqual([
      ["exe:probe_me", "found", "/usr/bin/app", "exe"],
      ["libc:malloc", "found", "/lib/ld-musl-x86_64.so.1", "interpreter"],
      ["libm:free", "found", "/lib/ld-musl-x86_64.so.1", "interpreter"],
      ["libthing:thing_fn", "found", "/opt/musl/lib/libthing.so", "musl path"],
    ]);
  });

  it("the decoy in /usr/lib, which the path file keeps out of the search, lacks the function: had it been picked, the check would fail", async () => {
    const r = await checkImage(layout, ["/opt/musl/lib/libthing.so:thing_fn", "/usr/lib/libthing.so:thing_fn"]);
    expect(r.checks.map((c) => c.status)).toEqual(["found", "missing"]);
  });
});
