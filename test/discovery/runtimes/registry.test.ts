/**
 * The runtime registry against real daemons: the tests' dockerd, Podman
 * service and containerd (test/support/*.ts start them), and CRI-O's client
 * over Podman's real containers/storage store (the same format; CRI-O itself
 * has no package here, see test/discovery/crio). Every runtime lists, finds
 * and inspects through the one interface; docker, podman and containerd
 * stream events; `probec resolve` and a bare name find a containerd
 * container, which the cgroup scan alone cannot (a `ctr run NAME` id is not
 * one a cgroup path names).
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { containerRuntime, containerRuntimes, findContainerByName, type RuntimeOptions } from "../../../src/discovery/runtimes/registry.js";
import type { RuntimeEvent } from "../../../src/discovery/runtimes/runtime.js";
import { probec } from "../../support/cli.js";
import { ctr, ensureContainerd, removeCtrContainer, TEST_CONTAINERD_SOCKET } from "../../support/containerd.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST } from "../../support/dockerd.js";
import { ensurePodmanService, importPodmanImage, podman, removePodmanContainers, runPodmanContainer, TEST_PODMAN_HOST } from "../../support/podman.js";

const NS = "probec-registry";
const CTR_IMAGE = "docker.io/library/probec-ctr-sleep:latest";
const CTR_APP = "probec-reg-app";
const CTR_EVENTS = "probec-reg-events";
const DOCKER_APP = "probec-reg-docker";
const DOCKER_EVENTS = "probec-reg-docker-events";
const PODMAN_APP = "probec-reg-podman";
const PODMAN_EVENTS = "probec-reg-podman-events";
const crio = { storageRoot: "/var/lib/probec-test-podman", runRoot: "/run/probec-test-podman" };
const options: RuntimeOptions = {
  docker: { host: TEST_DOCKER_HOST },
  podman: { host: TEST_PODMAN_HOST },
  containerd: { address: TEST_CONTAINERD_SOCKET },
  crio,
};
let ctrPid = 0;
let podmanId = "";

beforeAll(async () => {
  await Promise.all([ensureDockerd(), ensureContainerd(), ensurePodmanService()]);
  importBinariesImage("probec-ctr-sleep");
  if (!ctr(["-n", NS, "images", "ls", "-q"]).split("\n").includes(CTR_IMAGE)) {
    const tar = join(tmpdir(), `probec-reg-sleep-${process.pid}.tar`);
    try {
      docker(["save", "-o", tar, "probec-ctr-sleep:latest"]);
      ctr(["-n", NS, "images", "import", tar]);
    } finally {
      rmSync(tar, { force: true });
    }
  }
  removeCtrContainer(NS, CTR_APP);
  removeCtrContainer(NS, CTR_EVENTS);
  ctr(["-n", NS, "run", "-d", CTR_IMAGE, CTR_APP, "/usr/bin/sleep", "600"]);
  const task = /^\S+\s+(\d+)\s+RUNNING/m.exec(
    ctr(["-n", NS, "tasks", "ls"])
      .split("\n")
      .filter((l) => l.startsWith(`${CTR_APP} `))
      .join("\n"),
  );
  ctrPid = Number(task?.[1]);
  runContainer("probec-ctr-sleep", DOCKER_APP, ["/usr/bin/sleep", "600"]);
  importPodmanImage("probec-podman-sleep");
  podmanId = runPodmanContainer("probec-podman-sleep", PODMAN_APP, ["/usr/bin/sleep", "600"]);
}, 180_000);

afterAll(() => {
  removeCtrContainer(NS, CTR_APP);
  removeCtrContainer(NS, CTR_EVENTS);
  removeContainers(DOCKER_APP, DOCKER_EVENTS);
  removePodmanContainers(PODMAN_APP, PODMAN_EVENTS);
}, 60_000);

/**
 * Reads `stream` until `wanted` matches an event (then stops the stream),
 * while `act` makes it happen. A stream has no "subscribed" signal (the
 * daemon answers, or ctr starts, before it registers the subscriber), so
 * `act` is repeated, each time making the whole sequence again, until the
 * wanted event arrives; the caller looks at the last sequence.
 */
async function waitFor(
  stream: AsyncIterable<RuntimeEvent>,
  controller: AbortController,
  wanted: (e: RuntimeEvent) => boolean,
  act: () => void,
): Promise<RuntimeEvent[]> {
  const seen: RuntimeEvent[] = [];
  const reading = (async () => {
    for await (const event of stream) {
      seen.push(event);
      if (wanted(event)) {
        controller.abort();
        break;
      }
    }
  })();
  let done = false;
  void reading.then(() => {
    done = true;
  });
  for (let attempt = 0; attempt < 20 && !done; attempt++) {
    act();
    await Promise.race([reading, new Promise((resolve) => setTimeout(resolve, 1000))]);
  }
  controller.abort();
  await reading;
  return seen;
}

describe("the registry", () => {
  it("has one client per runtime, in lookup order, and says which have events", () => {
    const clients = containerRuntimes(options);
    expect(clients.map((c) => c.name)).toEqual(["docker", "podman", "containerd", "crio"]);
    expect(clients.map((c) => [c.name, c.events !== undefined])).toEqual([
      ["docker", true],
      ["podman", true],
      ["containerd", true],
      ["crio", false],
    ]);
    expect(clients.map((c) => c.present())).toEqual([true, true, true, true]);
  });

  it("lists, finds and inspects a container in every runtime", async () => {
    const dockerClient = containerRuntime("docker", options);
    const d = (await dockerClient.list()).find((c) => c.name === DOCKER_APP);
    expect(d).toMatchObject({ runtime: "docker", running: true, namespace: undefined });
    const dFound = await dockerClient.find(DOCKER_APP);
    expect(dFound).toMatchObject({ id: d?.id, name: DOCKER_APP, running: true });
    expect(dFound.layers.length).toBeGreaterThan(1);
    expect((await dockerClient.inspect(d?.id ?? "")).name).toBe(DOCKER_APP);

    const podmanClient = containerRuntime("podman", options);
    expect((await podmanClient.list()).find((c) => c.id === podmanId)).toMatchObject({ runtime: "podman", name: PODMAN_APP, running: true });
    expect((await podmanClient.find(PODMAN_APP)).id).toBe(podmanId);
    expect((await podmanClient.inspect(podmanId)).name).toBe(PODMAN_APP);

    const containerd = containerRuntime("containerd", options);
    expect((await containerd.list()).find((c) => c.id === CTR_APP)).toMatchObject({ runtime: "containerd", namespace: NS, image: CTR_IMAGE, running: true });
    const cFound = await containerd.find(`${NS}/${CTR_APP}`);
    expect(cFound).toMatchObject({ id: CTR_APP, namespace: NS, pid: ctrPid, running: true });
    expect(cFound.layers.length).toBeGreaterThan(0);
    expect((await containerd.inspect(CTR_APP, NS)).pid).toBe(ctrPid);
    expect(await containerd.processIds(cFound)).toEqual([ctrPid]);

    // CRI-O's client over the same store Podman writes: the Podman container, by its store name.
    const crioClient = containerRuntime("crio", options);
    const inStore = (await crioClient.list()).find((c) => c.id === podmanId);
    expect(inStore).toMatchObject({ runtime: "crio", name: PODMAN_APP, running: true });
    expect((await crioClient.find(PODMAN_APP)).id).toBe(podmanId);
    expect((await crioClient.inspect(podmanId)).pid).toBe(Number(podman(["inspect", "--format", "{{.State.Pid}}", PODMAN_APP])));
  });

  it("finds a bare name in containerd when docker and podman do not have it", async () => {
    const { client, container } = await findContainerByName(CTR_APP, options);
    expect(client.name).toBe("containerd");
    expect(container).toMatchObject({ id: CTR_APP, namespace: NS });
    const scope = await resolveScope({ kind: "name", name: CTR_APP }, options);
    expect(scope).toMatchObject({ runtime: "containerd", containerId: CTR_APP });
    expect(scope.processes.map((p) => p.pid)).toEqual([ctrPid]);
    const error = await findContainerByName("probec-reg-nope", options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(
      'no running container is called "probec-reg-nope"; tried docker (no such container), podman (no such container), containerd (no such container)',
    );
  });
});

describe("events", () => {
  it("docker streams a container's create, start and exit", async () => {
    removeContainers(DOCKER_EVENTS);
    const controller = new AbortController();
    const stream = containerRuntime("docker", options).events?.({ signal: controller.signal });
    if (stream === undefined) throw new Error("docker has no events");
    const seen = await waitFor(
      stream,
      controller,
      (e) => e.name === DOCKER_EVENTS && e.action === "exit",
      () => {
        docker(["run", "--rm", "--name", DOCKER_EVENTS, "--network=none", "probec-ctr-sleep", "/usr/bin/sleep", "0.2"]);
      },
    );
    const all = seen.filter((e) => e.name === DOCKER_EVENTS);
    const mine = all.slice(all.map((e) => e.action).lastIndexOf("create"));
    expect(mine.map((e) => e.action)).toEqual(expect.arrayContaining(["create", "start", "exit"]));
    expect(mine[0]).toMatchObject({ runtime: "docker", rawAction: "create" });
    expect(mine[0]?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(mine[0]?.timeNs).toBeGreaterThan(1_700_000_000_000_000_000n);
  });

  it("podman streams a container's start through its Docker-compatible API", async () => {
    removePodmanContainers(PODMAN_EVENTS);
    const controller = new AbortController();
    const stream = containerRuntime("podman", options).events?.({ signal: controller.signal });
    if (stream === undefined) throw new Error("podman has no events");
    const seen = await waitFor(
      stream,
      controller,
      (e) => e.name === PODMAN_EVENTS && e.action === "start",
      () => {
        removePodmanContainers(PODMAN_EVENTS);
        runPodmanContainer("probec-podman-sleep", PODMAN_EVENTS, ["/usr/bin/sleep", "600"]);
      },
    );
    expect(seen.filter((e) => e.name === PODMAN_EVENTS).at(-1)).toMatchObject({ runtime: "podman", action: "start" });
  });

  it("containerd streams a container's create, task start and exit, with the pid", async () => {
    removeCtrContainer(NS, CTR_EVENTS);
    const controller = new AbortController();
    const stream = containerRuntime("containerd", options).events?.({ signal: controller.signal });
    if (stream === undefined) throw new Error("containerd has no events");
    const seen = await waitFor(
      stream,
      controller,
      (e) => e.id === CTR_EVENTS && e.action === "exit",
      () => {
        ctr(["-n", NS, "run", "--rm", CTR_IMAGE, CTR_EVENTS, "/usr/bin/sleep", "0.2"]);
      },
    );
    const all = seen.filter((e) => e.id === CTR_EVENTS);
    const mine = all.slice(all.map((e) => e.action).lastIndexOf("create"));
    expect(mine.map((e) => e.action)).toEqual(["create", "other", "start", "exit"]);
    expect(mine.find((e) => e.action === "start")).toMatchObject({ runtime: "containerd", namespace: NS, rawAction: "/tasks/start" });
    expect(mine.find((e) => e.action === "start")?.pid).toBeGreaterThan(0);
  });
});

describe("probec resolve", () => {
  it("lists a containerd container the cgroup scan cannot name, with its namespace and task pid", async () => {
    const saved = { docker: process.env["DOCKER_HOST"], containerd: process.env["CONTAINERD_ADDRESS"] };
    process.env["DOCKER_HOST"] = TEST_DOCKER_HOST;
    process.env["CONTAINERD_ADDRESS"] = TEST_CONTAINERD_SOCKET;
    try {
      const r = await probec("resolve", "--json");
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout) as { runtime: string; id: string; name: string | null; namespace?: string; pids: number[] }[];
      expect(rows.find((row) => row.id === CTR_APP)).toEqual(expect.objectContaining({ runtime: "containerd", namespace: NS, name: null, pids: [ctrPid] }));
      expect(rows.find((row) => row.name === DOCKER_APP)?.runtime).toBe("docker");
      const table = await probec("resolve");
      expect(table.stdout).toMatch(new RegExp(`^containerd +${CTR_APP} +- +${ctrPid}$`, "m"));
      const one = await probec("resolve", CTR_APP);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(/^runtime +containerd$/m);
    } finally {
      for (const [key, value] of [
        ["DOCKER_HOST", saved.docker],
        ["CONTAINERD_ADDRESS", saved.containerd],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
