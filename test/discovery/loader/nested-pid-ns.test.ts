/**
 * PITFALLS 22 with three pid namespaces: probec's, then two nested ones,
 *
 *     unshare --pid --fork --kill-child --mount-proc \
 *       unshare --pid --fork --kill-child --mount-proc /bin/sleep 60
 *
 * The innermost sleep is pid 1 of the inner namespace and pid 2 of the
 * middle one (the inner unshare is the middle one's pid 1), so its NSpid
 * is `<pid> 2 1`. It is found in OUR namespace by walking /proc/<pid>/status
 * for a descendant of the outer unshare with three NSpid values.
 *
 *  - inspectProcess(pid).nsPid is that chain, outermost (our pid) first;
 *  - resolveTarget(pid/<pid>:libc:malloc) resolves malloc in the libc the
 *    sleep maps, and its scope's process carries the chain;
 *  - the built CLI, `probec resolve pid/<pid> --json`, prints the same chain.
 *
 * --kill-child: when the outer unshare is SIGKILLed in afterAll, its child
 * (the middle namespace's init) is killed, which kills the whole nest.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findSymbol } from "../../../src/index.js";
import { inspectProcess } from "../../../src/discovery/processes.js";
import { mappedObjects, readMaps } from "../../../src/discovery/proc/maps.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { Children, until } from "../e2e/children.js";
import { descendantsOf, nsPidOf } from "./support.js";

const children = new Children();
let outer: number;
let pid: number;
let nest: number[] = [];

beforeAll(async () => {
  const child = await children.start("unshare", [
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "unshare",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "/bin/sleep",
    "60",
  ]);
  outer = child.pid!;
  let found: number[] = [];
  await until(
    "the innermost sleep runs with three NSpid values",
    () => {
      found = descendantsOf(outer).filter((p) => nsPidOf(p)?.length === 3 && readFileSync(`/proc/${p}/comm`, "utf8") === "sleep\n");
      return found.length === 1;
    },
    child,
  );
  pid = found[0]!;
  nest = descendantsOf(outer);
});

afterAll(async () => {
  await children.killAll();
  // The nest dies with the outer unshare (--kill-child); make sure, by pid, of every process we saw in it.
  await until("the nested namespaces are gone", () => nest.every((p) => nsPidOf(p) === undefined));
});

test("the innermost sleep's NSpid, read straight from /proc, is [pid, 2, 1]", () => {
  expect(nsPidOf(pid)).toEqual([pid, 2, 1]);
  // It is in a different pid namespace than ours, two levels down.
  expect(execFileSync("readlink", [`/proc/${pid}/ns/pid`], { encoding: "utf8" })).not.toBe(
    execFileSync("readlink", ["/proc/self/ns/pid"], { encoding: "utf8" }),
  );
});

test("inspectProcess gives the three-level chain, our pid first", () => {
  const info = inspectProcess(pid);
  expect(info.pid).toBe(pid);
  expect(info.nsPid).toEqual([pid, 2, 1]);
  expect(info.comm).toBe("sleep");
});

test("resolveTarget(pid/<pid>:libc:malloc) finds malloc in the libc the sleep maps, and carries the chain", async () => {
  const libcs = [
    ...new Set(
      mappedObjects(readMaps(pid))
        .map((o) => o.path)
        .filter((p) => /\/libc\.so\.6$/.test(p)),
    ),
  ];
  expect(libcs).toHaveLength(1);
  const expected = await findSymbol(libcs[0]!, "malloc");
  const r = await resolveTarget(`pid/${pid}:libc:malloc`);
  expect(r.scope.runtime).toBe("pid");
  expect(r.scope.processes.map((p) => [p.pid, p.nsPid])).toEqual([[pid, [pid, 2, 1]]]);
  expect(r.groups).toHaveLength(1);
  const g = r.groups[0]!;
  expect(g.processes.map((p) => p.nsPid)).toEqual([[pid, 2, 1]]);
  expect(g.object.how).toBe("maps");
  expect(g.object.mapped).toBe(true);
  expect(g.object.containerPath).toBe(libcs[0]);
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["malloc", expected.fileOffset]]);
});

test("the built CLI, probec resolve pid/<pid> --json, prints the same chain", () => {
  // dist is built by `npx tsc -p tsconfig.build.json` (as test/cli.test.ts expects).
  const out = execFileSync(process.execPath, ["dist/src/cli/main.js", "resolve", `pid/${pid}`, "--json"], { encoding: "utf8" });
  const json = JSON.parse(out) as { runtime: string; processes: { pid: number; nsPid: number[]; comm: string }[] };
  expect(json.runtime).toBe("pid");
  expect(json.processes.map((p) => [p.pid, p.nsPid, p.comm])).toEqual([[pid, [pid, 2, 1], "sleep"]]);
});
