/**
 * Docker scopes end to end, against the tests' own dockerd (test/support/dockerd.ts):
 * two containers from one image (probec-e2e-a, probec-e2e-b) running sleep.
 *
 *  - resolveScope(docker/probec-e2e-a) lists only a's processes (PITFALLS 19:
 *    the image's files are shared, so the scope must come from cgroups);
 *  - a process started later (`docker exec -d`) shows up in the next call;
 *  - docker/probec-e2e-a:libc:getaddrinfo is getaddrinfo in the image's libc
 *    (a copy of the host's: same offset), containerPath inside the container;
 *  - `probec list docker/probec-e2e-a:libc getaddrinfo --functions`;
 *  - a misspelt name names the nearest running container.
 *
 * Both containers are removed in afterAll; DOCKER_HOST is restored after each CLI test.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findSymbol, NotFoundError } from "../../../src/index.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { probec } from "../../support/cli.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer } from "../../support/dockerd.js";
import { runtimeFiles } from "../../support/rootfs.js";

const IMAGE = "probec-e2e-sleep";
const A = "probec-e2e-a";
const B = "probec-e2e-b";

let host: string;
let idA: string;
let idB: string;
/** The host libc sleep loads; the image has a copy at the same path. */
const hostLibc = runtimeFiles("/usr/bin/sleep").find((p) => /\/libc\.so\.6$/.test(p))!;

beforeAll(async () => {
  host = await ensureDockerd();
  importBinariesImage(IMAGE);
  idA = runContainer(IMAGE, A, ["/usr/bin/sleep", "600"]);
  idB = runContainer(IMAGE, B, ["/usr/bin/sleep", "600"]);
});

afterAll(() => {
  removeContainers(A, B);
});

/** Runs `fn` with DOCKER_HOST set to the test daemon, restoring the old value after. */
async function withDockerHost<T>(fn: () => Promise<T>): Promise<T> {
  const old = process.env["DOCKER_HOST"];
  process.env["DOCKER_HOST"] = host;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env["DOCKER_HOST"];
    else process.env["DOCKER_HOST"] = old;
  }
}

function cgroupOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cgroup`, "utf8");
}

test("docker/probec-e2e-a lists only container a's processes (PITFALLS 19)", async () => {
  expect(idA).toMatch(/^[0-9a-f]{64}$/);
  const scope = await resolveScope({ kind: "docker", ref: A }, { docker: { host } });
  expect(scope.runtime).toBe("docker");
  expect(scope.containerId).toBe(idA);
  expect(scope.containerName).toBe(A);
  expect(scope.processes.map((p) => p.comm)).toEqual(["sleep"]);
  const statePid = Number(docker(["inspect", "--format", "{{.State.Pid}}", A]));
  expect(scope.processes.map((p) => p.pid)).toEqual([statePid]);
  // Its init: pid 1 in the container's pid namespace.
  expect(scope.processes[0]!.nsPid).toEqual([statePid, 1]);
  for (const p of scope.processes) {
    expect(p.container?.id).toBe(idA);
    expect(cgroupOf(p.pid)).toContain(idA);
    expect(cgroupOf(p.pid)).not.toContain(idB);
  }
});

test("a process started later with docker exec -d shows up in the next resolveScope", async () => {
  const before = await resolveScope({ kind: "docker", ref: A }, { docker: { host } });
  docker(["exec", "-d", A, "/usr/bin/sleep", "30"]);
  let after = before;
  for (let i = 0; i < 100 && after.processes.length === before.processes.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await resolveScope({ kind: "docker", ref: A }, { docker: { host } });
  }
  const added = after.processes.filter((p) => !before.processes.some((q) => q.pid === p.pid));
  expect(added.map((p) => p.comm)).toEqual(["sleep"]);
  expect(readFileSync(`/proc/${added[0]!.pid}/cmdline`, "utf8")).toBe("/usr/bin/sleep\u000030\u0000");
  expect(cgroupOf(added[0]!.pid)).toContain(idA);
  expect(cgroupOf(added[0]!.pid)).not.toContain(idB);
  // b is untouched.
  const b = await resolveScope({ kind: "docker", ref: B }, { docker: { host } });
  expect(b.processes.map((p) => p.comm)).toEqual(["sleep"]);
  expect(b.processes.every((p) => p.container?.id === idB)).toBe(true);
});

test("docker/probec-e2e-a:libc:getaddrinfo is getaddrinfo in the image's libc, at the host libc's offset", async () => {
  const expected = await findSymbol(hostLibc, "getaddrinfo");
  const r = await resolveTarget(`docker/${A}:libc:getaddrinfo`, { docker: { host } });
  expect(r.scope.containerId).toBe(idA);
  expect(r.scope.layers.length).toBeGreaterThanOrEqual(2);
  const info = JSON.parse(docker(["inspect", "--format", "{{json .GraphDriver}}", A])) as { Name: string; Data: { UpperDir: string; LowerDir: string } };
  expect(info.Name).toBe("overlay2");
  expect(r.scope.layers).toEqual([info.Data.UpperDir, ...info.Data.LowerDir.split(":")]);
  // All of a's processes share one mount namespace: one group.
  expect(r.groups).toHaveLength(1);
  const g = r.groups[0]!;
  expect(g.object.containerPath).toBe(hostLibc);
  expect(g.object.how).toBe("maps");
  expect(g.object.mapped).toBe(true);
  expect(g.object.replaced).toBe(false);
  expect(g.object.readPath.startsWith(`/proc/${g.processes[0]!.pid}/map_files/`)).toBe(true);
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["getaddrinfo", expected.fileOffset]]);
});

test("probec list docker/probec-e2e-a:libc getaddrinfo --functions prints getaddrinfo's row", async () => {
  const expected = await findSymbol(hostLibc, "getaddrinfo");
  const out = await withDockerHost(() => probec("list", `docker/${A}:libc`, "getaddrinfo", "--functions"));
  expect(out.stderr).toBe("");
  expect(out.code).toBe(0);
  const lines = out.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]!.split(/\s+/)).toEqual(["FUNCTION", "ADDRESS", "OFFSET", "SIZE", "TYPE", "BIND"]);
  const name = expected.version === null ? "getaddrinfo" : `getaddrinfo${expected.isDefaultVersion ? "@@" : "@"}${expected.version}`;
  expect(lines[1]!.trim().split(/\s+/)).toEqual([
    name,
    `0x${expected.address.toString(16)}`,
    `0x${expected.fileOffset.toString(16)}`,
    String(expected.size),
    expected.type,
    expected.binding,
  ]);
});

test("docker/probec-e2e-nope:libc is a NotFoundError naming the nearest running container", async () => {
  const error = await resolveTarget(`docker/probec-e2e-nope:libc`, { docker: { host } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  expect((error as NotFoundError).message).toBe('docker: no running container named "probec-e2e-nope" or with that id');
  const hints = (error as NotFoundError & { hints: readonly string[] }).hints;
  // Both are 4 edits away (threshold: 15 / 3 = 5); ties sort by name. probec-test-* (other files) are 7+ away.
  expect(hints).toEqual(['did you mean "probec-e2e-a" or "probec-e2e-b"?']);
  const out = await withDockerHost(() => probec("list", "docker/probec-e2e-nope:libc"));
  expect(out).toEqual({
    code: 2,
    stdout: "",
    stderr: 'probec: docker: no running container named "probec-e2e-nope" or with that id\n  hint: did you mean "probec-e2e-a" or "probec-e2e-b"?\n',
  });
});
