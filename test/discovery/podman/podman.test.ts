/**
 * Podman scopes against a real Podman API service (test/support/podman.ts
 * starts one on its own socket and store if none answers): two containers of
 * one tiny imported image running sleep, probec-podman-a (with a label) and
 * probec-podman-b.
 *
 *  - resolveScope(podman/NAME) and by id prefix: runtime podman, id, name,
 *    labels, overlay layers, and only that container's processes, each the
 *    inspect State.Pid and named by its cgroup (`libpod-<id>`);
 *  - podman/NAME:libc:getaddrinfo is the host libc's getaddrinfo offset;
 *  - unknown names are NotFoundErrors naming the nearest; bad hosts are refused.
 *
 * Both containers are removed in afterAll. The service keeps running.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { findSymbol, NotFoundError, ProbecError, UsageError } from "../../../src/index.js";
import { resolveTarget } from "../../../src/discovery/resolve-target.js";
import { DEFAULT_PODMAN_SOCKET, findPodmanContainer, podmanSocketPath } from "../../../src/discovery/runtimes/podman.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { ensurePodmanService, importPodmanImage, podman, removePodmanContainers, runPodmanContainer } from "../../support/podman.js";
import { runtimeFiles } from "../../support/rootfs.js";

const IMAGE = "probec-podman-sleep";
const A = "probec-podman-a";
const B = "probec-podman-b";
const LABEL = { key: "probec.test", value: "podman-a" };

let host: string;
let idA: string;
let idB: string;
/** The host libc sleep loads; the image has a copy at the same path. */
const hostLibc = runtimeFiles("/usr/bin/sleep").find((p) => /\/libc\.so\.6$/.test(p))!;

beforeAll(async () => {
  host = await ensurePodmanService();
  importPodmanImage(IMAGE);
  idA = runPodmanContainer(IMAGE, A, ["/usr/bin/sleep", "600"], ["--label", `${LABEL.key}=${LABEL.value}`]);
  idB = runPodmanContainer(IMAGE, B, ["/usr/bin/sleep", "600"]);
}, 120_000);

afterAll(() => {
  removePodmanContainers(A, B);
}, 60_000);

function cgroupOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cgroup`, "utf8");
}

function statePid(name: string): number {
  return Number(podman(["inspect", "--format", "{{.State.Pid}}", name]));
}

async function rejection(promise: Promise<unknown>): Promise<ProbecError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProbecError);
  return error as ProbecError;
}

describe("podmanSocketPath", () => {
  test("reads unix:// addresses and defaults to rootful Podman's socket", () => {
    expect(podmanSocketPath("unix:///run/x.sock")).toBe("/run/x.sock");
    expect(podmanSocketPath("")).toBe(DEFAULT_PODMAN_SOCKET); // the tests run as root
    expect(DEFAULT_PODMAN_SOCKET).toBe("/run/podman/podman.sock");
  });

  test("refuses ssh:// and other transports", () => {
    expect(() => podmanSocketPath("ssh://core@localhost:22/run/podman/podman.sock")).toThrow(UsageError);
    expect(() => podmanSocketPath("tcp://1.2.3.4:8080")).toThrow("CONTAINER_HOST=tcp://1.2.3.4:8080: uses tcp://; only unix sockets are supported");
  });
});

describe("findPodmanContainer (the Docker client on Podman's compatible API)", () => {
  test("gives Podman's view: id, name without '/', State.Pid, labels, overlay layers", async () => {
    const info = await findPodmanContainer(A, { host });
    expect(info.id).toBe(idA);
    expect(info.name).toBe(A);
    expect(info.state).toEqual({ status: "running", running: true, pid: statePid(A) });
    expect(info.labels[LABEL.key]).toBe(LABEL.value);
    expect(info.image).toBe(`localhost/${IMAGE}:latest`);
    // containers/storage's driver is "overlay" (dockerd's is "overlay2").
    expect(info.graphDriver.name).toBe("overlay");
    expect(info.graphDriver.upperDir).toMatch(/^\/var\/lib\/probec-test-podman\/overlay\/[0-9a-f]{64}\/diff$/);
    expect(info.graphDriver.lowerDirs.length).toBeGreaterThanOrEqual(1);
    expect((await findPodmanContainer(`/${A}`, { host })).id).toBe(idA);
    expect((await findPodmanContainer(idB.slice(0, 12), { host })).name).toBe(B);
  });

  test("errors speak of podman, not docker", async () => {
    const error = await rejection(findPodmanContainer("probec-podman-aa", { host }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('podman: no running container named "probec-podman-aa" or with that id');
    const missing = await rejection(findPodmanContainer(A, { host: "unix:///run/probec-test-podman-absent.sock" }));
    expect(missing.code).toBe("E_IO");
    expect(missing.message).toBe("podman: socket /run/probec-test-podman-absent.sock does not exist; is the podman service running?");
    expect(missing.hints.join("\n")).toContain("CONTAINER_HOST=unix:///path/to/podman.sock");
  });
});

describe("resolveScope podman/…", () => {
  test("podman/NAME: runtime podman, the id and name, exactly the container's processes", async () => {
    expect(idA).toMatch(/^[0-9a-f]{64}$/);
    const scope = await resolveScope({ kind: "podman", ref: A }, { podman: { host } });
    expect(scope.runtime).toBe("podman");
    expect(scope.containerId).toBe(idA);
    expect(scope.containerName).toBe(A);
    expect(scope.labels[LABEL.key]).toBe(LABEL.value);
    const pid = statePid(A);
    expect(scope.processes.map((p) => [p.pid, p.comm])).toEqual([[pid, "sleep"]]);
    expect(scope.processes[0]!.nsPid).toEqual([pid, 1]);
    for (const p of scope.processes) {
      expect(p.container).toMatchObject({ runtime: "podman", id: idA });
      expect(cgroupOf(p.pid)).toMatch(new RegExp(`/libpod-${idA}(\\.scope)?(/|$)`, "m"));
      expect(cgroupOf(p.pid)).not.toContain(idB);
    }
    const graph = JSON.parse(podman(["inspect", "--format", "{{json .GraphDriver}}", A])) as { Data: { UpperDir: string; LowerDir: string } };
    expect(scope.layers).toEqual([graph.Data.UpperDir, ...graph.Data.LowerDir.split(":")]);
  });

  test("podman/ID-PREFIX finds the same container", async () => {
    const scope = await resolveScope({ kind: "podman", ref: idB.slice(0, 8) }, { podman: { host } });
    expect(scope.runtime).toBe("podman");
    expect(scope.containerId).toBe(idB);
    expect(scope.containerName).toBe(B);
    expect(scope.processes.map((p) => p.pid)).toEqual([statePid(B)]);
    expect(cgroupOf(scope.processes[0]!.pid)).toContain(`libpod-${idB}`);
  });

  test("an unknown name is a NotFoundError naming the nearest running containers", async () => {
    const error = await rejection(resolveScope({ kind: "podman", ref: "probec-podman-c" }, { podman: { host } }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('podman: no running container named "probec-podman-c" or with that id');
    expect(error.hints).toHaveLength(1);
    expect(error.hints[0]).toContain(`"${A}"`);
    expect(error.hints[0]).toContain(`"${B}"`);
  });

  test("without the API socket: an id prefix still resolves through cgroups, a name says what is missing", async () => {
    const absent = { podman: { host: "unix:///run/probec-test-podman-absent.sock" } };
    const scope = await resolveScope({ kind: "podman", ref: idA.slice(0, 12) }, absent);
    expect(scope.runtime).toBe("podman");
    expect(scope.containerId).toBe(idA);
    expect(scope.containerName).toBeUndefined();
    expect(scope.processes.map((p) => p.pid)).toEqual([statePid(A)]);
    const error = await rejection(resolveScope({ kind: "podman", ref: A }, absent));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe(`podman/${A}: no Podman API socket at /run/probec-test-podman-absent.sock to resolve the name`);
  });
});

test("podman/NAME:libc:getaddrinfo is getaddrinfo in the image's libc, at the host libc's offset", async () => {
  const expected = await findSymbol(hostLibc, "getaddrinfo");
  const r = await resolveTarget(`podman/${A}:libc:getaddrinfo`, { podman: { host } });
  expect(r.scope.runtime).toBe("podman");
  expect(r.scope.containerId).toBe(idA);
  expect(r.groups).toHaveLength(1);
  const g = r.groups[0]!;
  expect(g.processes.map((p) => p.pid)).toEqual([statePid(A)]);
  expect(g.object.containerPath).toBe(hostLibc);
  expect(g.symbols!.map((s) => [s.name, s.fileOffset])).toEqual([["getaddrinfo", expected.fileOffset]]);
});
