// The Docker client against a real daemon (test/support/dockerd.ts starts
// one if none answers): two containers of one tiny imported image, found by
// every kind of reference, their PIDs checked against /proc.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { IoError, NotFoundError, ProbecError, UsageError } from "../../../src/errors.js";
import { containerPids, findContainer, inspectContainer, listContainers, type ContainerInfo } from "../../../src/discovery/runtimes/docker.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer } from "../../support/dockerd.js";

const IMAGE = "probec-test-sleep:latest";
const A = "probec-test-a";
const B = "probec-test-b";
const CREATED = "probec-test-created"; // created, never started
const K8S_LABELS = {
  "io.kubernetes.pod.namespace": "probec",
  "io.kubernetes.pod.name": "probec-test-pod",
  "io.kubernetes.container.name": "a",
};

let host = "";
let idA = "";
let idB = "";

beforeAll(async () => {
  host = await ensureDockerd();
  importBinariesImage(IMAGE, ["/usr/bin/sleep"]);
  const labels = Object.entries(K8S_LABELS).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
  idA = runContainer(IMAGE, A, ["/usr/bin/sleep", "3600"], labels);
  idB = runContainer(IMAGE, B, ["/usr/bin/sleep", "3600"]);
  removeContainers(CREATED);
  docker(["create", "--network", "none", "--name", CREATED, IMAGE, "/usr/bin/sleep", "1"]);
});

afterAll(() => {
  // Runs after a failed beforeAll too; rm -f of a missing container is a no-op.
  removeContainers(A, B, CREATED);
});

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ProbecError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProbecError);
  return error as ProbecError;
}

function cgroupNames(pid: number, id: string): boolean {
  return readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(id);
}

describe("listContainers", () => {
  it("lists both running containers with their names and image, not the created one", async () => {
    const list = await listContainers({ host });
    const a = list.find((c) => c.id === idA);
    expect(a).toMatchObject({ names: [A], image: IMAGE, state: "running", labels: K8S_LABELS });
    expect(list.find((c) => c.id === idB)?.names).toEqual([B]);
    expect(list.some((c) => c.names.includes(CREATED))).toBe(false);
  });
});

describe("findContainer", () => {
  it("finds a container by name, /name, full id and id prefix", async () => {
    expect((await findContainer(A, { host })).id).toBe(idA);
    expect((await findContainer(`/${B}`, { host })).id).toBe(idB);
    expect((await findContainer(idA, { host })).name).toBe(A);
    expect((await findContainer(idB.slice(0, 12), { host })).name).toBe(B);
  });

  it("finds a container by its shortest unique prefix of at least 4 digits", async () => {
    const others = (await listContainers({ host })).map((c) => c.id).filter((id) => id !== idA);
    let n = 4;
    while (others.some((id) => id.startsWith(idA.slice(0, n)))) n++;
    expect((await findContainer(idA.slice(0, n), { host })).id).toBe(idA);
  });

  it("refuses a 3-digit prefix", async () => {
    const error = await rejection(findContainer(idA.slice(0, 3), { host }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe(`docker: id prefix "${idA.slice(0, 3)}" is too short; give at least 4 hex digits`);
  });

  it("names the nearest running containers for an unknown name", async () => {
    const error = await rejection(findContainer("probec-test-c", { host }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('docker: no running container named "probec-test-c" or with that id');
    expect(error.hints[0]).toMatch(/^did you mean ".*"\?$/);
    expect(error.hints[0]).toContain('"probec-test-a"');
    expect(error.hints[0]).toContain('"probec-test-b"');
  });

  it("says a stopped container is not running, and how to start it", async () => {
    const error = await rejection(findContainer(CREATED, { host }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe(`docker: container "${CREATED}" is not running (created)`);
    expect(error.hints).toEqual([`start it: docker start ${CREATED}`]);
  });
});

describe("inspectContainer", () => {
  let a: ContainerInfo;
  let b: ContainerInfo;
  beforeAll(async () => {
    a = await inspectContainer(A, { host });
    b = await inspectContainer(B, { host });
  });

  it("reports the image, labels and a host PID whose cgroup names the container", () => {
    expect(a).toMatchObject({ id: idA, name: A, image: IMAGE, labels: K8S_LABELS });
    expect(a.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.state).toMatchObject({ status: "running", running: true });
    expect(a.state.pid).toBeGreaterThan(1);
    expect(cgroupNames(a.state.pid, idA)).toBe(true);
    expect(readFileSync(`/proc/${a.state.pid}/cmdline`, "utf8")).toBe("/usr/bin/sleep\x003600\x00");
    expect(cgroupNames(b.state.pid, idA)).toBe(false);
  });

  it("reports overlay2 layers that exist, the image's shared by both containers", () => {
    for (const c of [a, b]) {
      expect(c.graphDriver.name).toBe("overlay2");
      expect(c.graphDriver.lowerDirs.length).toBeGreaterThanOrEqual(2); // the -init layer, then the image's
      for (const dir of [...c.graphDriver.lowerDirs, c.graphDriver.upperDir, c.graphDriver.mergedDir]) {
        expect(dir !== undefined && existsSync(dir), String(dir)).toBe(true);
      }
      expect(existsSync(join(c.graphDriver.mergedDir ?? "/nonexistent", "usr/bin/sleep"))).toBe(true);
    }
    // PITFALLS 19: one image layer under both containers, each with its own upper dir.
    expect(a.graphDriver.lowerDirs.at(-1)).toBe(b.graphDriver.lowerDirs.at(-1));
    expect(a.graphDriver.upperDir).not.toBe(b.graphDriver.upperDir);
  });

  it("throws NotFoundError with the daemon's words for an unknown container", async () => {
    const error = await rejection(inspectContainer("probec-test-none", { host }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe("docker: No such container: probec-test-none");
  });
});

describe("containerPids", () => {
  it("includes a process started later with docker exec -d, and only the container's", async () => {
    const first = (await inspectContainer(A, { host })).state.pid;
    const before = await containerPids(idA, { host });
    expect(before).toContain(first);
    docker(["exec", "-d", A, "/usr/bin/sleep", "1234"]);
    let after = before;
    for (let i = 0; i < 50 && after.length === before.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await containerPids(idA, { host });
    }
    const added = after.filter((pid) => !before.includes(pid));
    expect(added).toHaveLength(1);
    const pid = added[0] ?? 0;
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toBe("/usr/bin/sleep\x001234\x00");
    expect(cgroupNames(pid, idA)).toBe(true);
    const pidsB = await containerPids(idB, { host });
    expect(pidsB.some((p) => after.includes(p))).toBe(false);
  });

  it("is an IoError for a container that does not run", async () => {
    const error = await rejection(containerPids(CREATED, { host }));
    expect(error).toBeInstanceOf(IoError);
    expect(error.message).toMatch(/answered 409: .*is not running/);
  });
});

describe("reaching the daemon", () => {
  it("names a missing socket from DOCKER_HOST and the fix", async () => {
    vi.stubEnv("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    try {
      const error = await rejection(listContainers());
      expect(error).toBeInstanceOf(IoError);
      expect(error.message).toBe("docker: socket /nonexistent/docker.sock does not exist; is dockerd running?");
      expect(error.hints).toEqual(["start dockerd, or set DOCKER_HOST=unix:///path/to/docker.sock"]);
      expect((error as IoError).errno).toBe("ENOENT");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("refuses DOCKER_HOST=tcp://", async () => {
    vi.stubEnv("DOCKER_HOST", "tcp://127.0.0.1:2375");
    try {
      const error = await rejection(findContainer(A));
      expect(error).toBeInstanceOf(UsageError);
      expect(error.message).toMatch(/only unix sockets are supported$/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("says nothing listens on a socket file left behind by a dead daemon", async () => {
    const path = join(tmpdir(), `probec-dead-${process.pid}.sock`);
    rmSync(path, { force: true });
    // python binds and exits without unlinking, as a killed dockerd leaves its socket.
    execFileSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]);
    try {
      const error = await rejection(listContainers({ host: `unix://${path}` }));
      expect(error.message).toBe(`docker: nothing listens on ${path}; is dockerd running?`);
      expect((error as IoError).errno).toBe("ECONNREFUSED");
    } finally {
      rmSync(path, { force: true });
    }
  });

  it("gives up on a daemon that does not answer within the timeout", async () => {
    const path = join(tmpdir(), `probec-silent-${process.pid}.sock`);
    rmSync(path, { force: true });
    const accepted: Socket[] = [];
    const server: Server = createServer((socket) => accepted.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const error = await rejection(listContainers({ host: `unix://${path}`, timeoutMs: 200 }));
      expect(error.message).toBe(`docker: GET /containers/json on ${path}: no answer within 200 ms`);
    } finally {
      for (const socket of accepted) socket.destroy(); // close() waits for open connections
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
