/**
 * Issue 14, selectors on real Docker containers: three containers of one
 * image run zoo_app (which reports how many zoo_set2 calls it made each
 * round), two labelled app=web and one app=db, all three with
 * probec.test=selectors so that other test files' containers in the shared
 * daemon never match. `docker/"app=web,probec.test=selectors"` (a quoted
 * selector: it holds a ',') picks exactly the two web containers; their
 * libzoo.so is one layer inode, so the plan has one entry for it, filtered
 * in the kernel to the two web containers' mount namespaces; a real attach
 * counts exactly each web container's calls and none of the db sibling's,
 * and every event names its container (by the mount namespace it carries).
 */
import { readlinkSync, statSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { scopeMatcher, selectContainers } from "../../../src/discovery/select.js";
import { parseTargetSpec, type SelectorScope } from "../../../src/dsl/target-spec.js";
import { JsonPrinter, TablePrinter } from "../../../src/cli/event-output.js";
import { probec } from "../../support/cli.js";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const WEB1 = "probec-sel-web-1";
const WEB2 = "probec-sel-web-2";
const DB = "probec-sel-db";
const CALLS = 7;
const SCOPE = 'docker/"app=web,probec.test=selectors"';
const targets = new Targets();
let env: E2e;
let web1: Target;
let web2: Target;
let db: Target;

function selectorScope(text: string): SelectorScope {
  const scope = parseTargetSpec(text).scope;
  if (scope.kind !== "select") throw new Error(`${text} is not a selector scope`);
  return scope;
}

/** A process's mount-namespace inode. */
function mntNsOf(pid: number): number {
  return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/mnt`))?.[1]);
}

/** The calls a round reports ("round R calls N rc X"). */
function callsOf(lines: readonly string[]): number {
  return lines.reduce((n, line) => n + Number(/^round \d+ calls (\d+)/.exec(line)?.[1] ?? 0), 0);
}

beforeAll(async () => {
  env = await e2eSetup();
  const labels = (app: string) => ["--label", `app=${app}`, "--label", "probec.test=selectors"];
  web1 = await targets.container(env.image, WEB1, "zoo_app", [String(CALLS)], labels("web"));
  web2 = await targets.container(env.image, WEB2, "zoo_app", [String(CALLS)], labels("web"));
  db = await targets.container(env.image, DB, "zoo_app", [String(CALLS)], labels("db"));
}, 120_000);

afterAll(() => targets.cleanup());

test("selectContainers and scopeMatcher pick exactly the two app=web containers", async () => {
  const scope = selectorScope(SCOPE);
  const picked = await selectContainers(scope, { docker: { host: env.host } });
  expect(picked.map((c) => c.name)).toEqual([WEB1, WEB2]);
  expect(picked.map((c) => c.id).sort()).toEqual([web1.containerId, web2.containerId].sort());
  const match = scopeMatcher(scope);
  expect(
    match({ runtime: "docker", id: "x", name: "x", runtimeNamespace: undefined, labels: { app: "web", "probec.test": "selectors" }, pod: undefined }),
  ).toBe(true);
  expect(match({ runtime: "docker", id: "x", name: "x", runtimeNamespace: undefined, labels: { app: "db", "probec.test": "selectors" }, pod: undefined })).toBe(
    false,
  );
  expect(
    match({ runtime: "podman", id: "x", name: "x", runtimeNamespace: undefined, labels: { app: "web", "probec.test": "selectors" }, pod: undefined }),
  ).toBe(false);
  // The other operators, over the same three.
  const names = async (text: string) => (await selectContainers(selectorScope(text), { docker: { host: env.host } })).map((c) => c.name);
  expect(await names('docker/"probec.test=selectors,app!=web"')).toEqual([DB]);
  expect(await names('docker/"probec.test=selectors,app in (db,cache)"')).toEqual([DB]);
  expect(await names('docker/"probec.test==selectors,app notin (db)"')).toEqual([WEB1, WEB2]);
  expect(await names("docker/*")).toEqual(expect.arrayContaining([WEB1, WEB2, DB]));
});

test("resolveScope: every process of the two, each container with its own mount namespace", async () => {
  const scope = await resolveScope(selectorScope(SCOPE), { docker: { host: env.host } });
  expect(scope.containerId).toBeUndefined();
  expect(scope.containers?.map((c) => [c.name, c.processes.map((p) => p.pid)])).toEqual([
    [WEB1, [web1.pid]],
    [WEB2, [web2.pid]],
  ]);
  expect(scope.processes.map((p) => p.pid)).not.toContain(db.pid);
});

test("probec resolve lists the containers a selector picks", async () => {
  const old = process.env["DOCKER_HOST"];
  process.env["DOCKER_HOST"] = env.host;
  try {
    const text = await probec("resolve", SCOPE);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`container ${web1.containerId} (${WEB1})\ncontainer ${web2.containerId} (${WEB2})\n`);
    const json = await probec("resolve", "--json", SCOPE);
    const containers = (JSON.parse(json.stdout) as { containers: { name: string; pids: number[] }[] }).containers;
    expect(containers.map((c) => [c.name, c.pids])).toEqual([
      [WEB1, [web1.pid]],
      [WEB2, [web2.pid]],
    ]);
    const none = await probec("resolve", "docker/probec.test=nothing-here");
    expect(none.code).toBe(2);
    expect(none.stderr.split("\n")[0]).toBe('probec: docker/probec.test=nothing-here: no running docker container matches "probec.test=nothing-here"');
  } finally {
    if (old === undefined) delete process.env["DOCKER_HOST"];
    else process.env["DOCKER_HOST"] = old;
  }
});

test("a selector matching nothing names the labels that exist; with follow it is an empty set", async () => {
  const scope = selectorScope("docker/probec.test=nothing-here");
  const error = await selectContainers(scope, { docker: { host: env.host } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  expect((error as NotFoundError).message).toBe('docker/probec.test=nothing-here: no running docker container matches "probec.test=nothing-here"');
  expect((error as NotFoundError).hints.join("\n")).toMatch(/labels of the \d+ running: .*app=db/);
  expect(await selectContainers(scope, { docker: { host: env.host }, follow: true })).toEqual([]);
  // Followed, a target over it resolves to no container and no group, for --follow to fill later.
  const followed = await resolveTarget("docker/probec.test=nothing-here:libzoo:zoo_set2", { docker: { host: env.host }, follow: true });
  expect([followed.scope.containers, followed.groups]).toEqual([[], []]);
});

test(`${SCOPE}:libzoo:zoo_set2 counts each web container's calls exactly, none of the db sibling's`, async () => {
  // One file underneath all three: the image layer's inode.
  const ino = statSync(`/proc/${web1.pid}/root/usr/lib/libzoo.so`).ino;
  expect(statSync(`/proc/${web2.pid}/root/usr/lib/libzoo.so`).ino).toBe(ino);
  expect(statSync(`/proc/${db.pid}/root/usr/lib/libzoo.so`).ino).toBe(ino);

  const plan = await compilePlan("selector", `uretprobe ${SCOPE}:libzoo:zoo_set2 {\n  rc = retval as i32\n}\n`, { docker: { host: env.host } });
  // One entry for the shared binary, filtered in the kernel to both containers' mount namespaces, mapping each back to its container.
  expect(plan.probes).toHaveLength(1);
  const entry = plan.probes[0]!;
  expect(entry.binary.ino).toBe(String(ino));
  expect(entry.target.containers?.map((c) => [c.mntNs, c.containerName, c.containerId])).toEqual([
    [mntNsOf(web1.pid), WEB1, web1.containerId],
    [mntNsOf(web2.pid), WEB2, web2.containerId],
  ]);
  expect(entry.target.mntNs).toBe(mntNsOf(web1.pid));
  expect(entry.filter).toEqual({
    kind: "container",
    containerId: web1.containerId,
    cgroupPaths: expect.any(Array),
    pids: [web1.pid, web2.pid].sort((a, b) => a - b),
    mntNs: [mntNsOf(web2.pid)],
  });
  expect(entry.filter?.mntNs).not.toContain(mntNsOf(db.pid));

  const trace = await Trace.start(plan);
  let expected1 = 0;
  let expected2 = 0;
  let laterPid = 0;
  try {
    expect(await trace.attachment.ready).toMatchObject({ attached: 1, failed: 0 });
    await db.round();
    expected1 += callsOf(await web1.round());
    expected2 += callsOf(await web2.round());
    // A process started in web-2 after attach: not among the plan's pids, kept by web-2's mount namespace in filter.mntNs alone.
    const later = await targets.exec(web2, "zoo_app", "status-later", [String(CALLS)]);
    laterPid = later.pid;
    expected2 += callsOf(await later.round());
    await db.round();
    await trace.waitForEvents("probe1", expected1 + expected2, { settleMs: 500 });
  } finally {
    await trace.close();
  }
  expect([expected1, expected2]).toEqual([CALLS, 2 * CALLS]);
  const events = trace.of("probe1");
  const byContainer = new Map<string | null, number>();
  for (const e of events) byContainer.set(e.container, (byContainer.get(e.container) ?? 0) + 1);
  expect(Object.fromEntries(byContainer)).toEqual({ [WEB1]: expected1, [WEB2]: expected2 });
  expect(events.filter((e) => e.pid === db.pid)).toEqual([]);
  expect(events.filter((e) => e.pid === laterPid).map((e) => e.container)).toEqual(Array(CALLS).fill(WEB2));
  for (const e of events) {
    expect(e.fields["rc"]).toBe(-4n);
    expect(e.containerId).toBe(e.container === WEB1 ? web1.containerId : web2.containerId);
    expect(e.pod).toBeUndefined();
  }
  // The CLI's outputs name the container: a CONTAINER column (the plan spans two), containerId in --json.
  const table = new TablePrinter(plan, 0n);
  const [header, row] = table.print(events[0]!).split("\n");
  expect(header).toMatch(/^\s*TIME\s+PROBE\s+PID\s+COMM\s+CONTAINER\s+RC$/);
  expect(row?.split(/\s+/).slice(3, 6)).toEqual(["zoo_app", events[0]!.container, "-4"]);
  expect(JSON.parse(new JsonPrinter().print(events[0]!))).toMatchObject({ container: events[0]!.container, containerId: events[0]!.containerId });
});

test("the helper refuses filter.mntNs on a process filter, naming the field", async () => {
  const plan = await compilePlan("selector-bad", `uprobe ${SCOPE}:libzoo:zoo_set2 {\n  pid\n}\n`, { docker: { host: env.host } });
  const bad = { ...plan, probes: plan.probes.map((p) => ({ ...p, filter: { ...p.filter!, kind: "process" as const, containerId: null } })) };
  const error = await (async () => {
    const trace = await Trace.start(bad);
    try {
      await trace.attachment.ready;
    } finally {
      await trace.close().catch(() => undefined);
    }
  })().catch((e: unknown) => e);
  expect(String((error as Error).message)).toMatch(/probes\[0\]\.filter\.mntNs: only a container filter keeps mount namespaces/);
});
