// containerd and k8s scopes against a real containerd (the tests' own, see
// test/support/containerd.ts) driven through ctr, and the tests' dockerd for
// the Docker half of the k8s scan. The image is the tests' sleep rootfs,
// imported into dockerd, `docker save`d and `ctr images import`ed; the
// containers carry the io.kubernetes.* labels a kubelet would set.
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmbiguousError, IoError, NotFoundError, UsageError } from "../../../src/errors.js";
import {
  containerInfo,
  containerdSocketPath,
  DEFAULT_CONTAINERD_SOCKET,
  findContainerdContainer,
  listContainers,
  listNamespaces,
  taskPid,
} from "../../../src/discovery/runtimes/containerd.js";
import { resolveScope, type ScopeOptions } from "../../../src/discovery/scope.js";
import { ctr, ensureContainerd, removeCtrContainer, TEST_CONTAINERD_SOCKET } from "../../support/containerd.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST } from "../../support/dockerd.js";

const NS = "probec-ctr-test";
const NS2 = "probec-ctr-test2";
const IMAGE = "docker.io/library/probec-ctr-sleep:latest";
const DOCKER_K8S = "probec-ctr-k8s-docker";
const POD = ["--label", "io.kubernetes.pod.namespace=default", "--label", "io.kubernetes.pod.name=web-7d4b9"];

const options: ScopeOptions = { containerd: { address: TEST_CONTAINERD_SOCKET }, docker: { host: TEST_DOCKER_HOST } };
const containerd = { address: TEST_CONTAINERD_SOCKET };
/** Every container made here, as [namespace, id]. */
const made: [string, string][] = [
  [NS, "probec-ctr-app"],
  [NS, "probec-ctr-sandbox"],
  [NS, "probec-ctr-old-app"],
  [NS2, "probec-ctr-multi-a"],
  [NS2, "probec-ctr-multi-b"],
];
let appPid = 0;

function run(namespace: string, id: string, labels: readonly string[]): void {
  removeCtrContainer(namespace, id);
  ctr(["-n", namespace, "run", "-d", ...labels, IMAGE, id, "/usr/bin/sleep", "600"]);
}

beforeAll(async () => {
  await Promise.all([ensureDockerd(), ensureContainerd()]);
  for (const ns of [NS, NS2]) {
    if (ctr(["-n", ns, "images", "ls", "-q"]).split("\n").includes(IMAGE)) continue;
    importBinariesImage("probec-ctr-sleep");
    const tar = join(tmpdir(), `probec-ctr-sleep-${process.pid}.tar`);
    try {
      docker(["save", "-o", tar, "probec-ctr-sleep:latest"]);
      ctr(["-n", ns, "images", "import", tar]);
    } finally {
      rmSync(tar, { force: true });
    }
  }
  run(NS, "probec-ctr-app", [...POD, "--label", "io.kubernetes.container.name=app"]);
  // The pod's sandbox, labelled as the CRI plugin does (and named like dockershim's): never an app container.
  run(NS, "probec-ctr-sandbox", [...POD, "--label", "io.kubernetes.container.name=POD", "--label", "io.cri-containerd.kind=sandbox"]);
  // An exited container of an earlier restart: same labels, no running task.
  removeCtrContainer(NS, "probec-ctr-old-app");
  ctr(["-n", NS, "containers", "create", ...POD, "--label", "io.kubernetes.container.name=app", IMAGE, "probec-ctr-old-app", "/usr/bin/sleep", "600"]);
  const multi = ["--label", "io.kubernetes.pod.namespace=batch", "--label", "io.kubernetes.pod.name=multi-1"];
  run(NS2, "probec-ctr-multi-a", [...multi, "--label", "io.kubernetes.container.name=a"]);
  run(NS2, "probec-ctr-multi-b", [...multi, "--label", "io.kubernetes.container.name=b"]);
  // A dockershim-style pod in Docker.
  runContainer(
    "probec-ctr-sleep",
    DOCKER_K8S,
    ["/usr/bin/sleep", "600"],
    [
      "--label",
      "io.kubernetes.pod.namespace=default",
      "--label",
      "io.kubernetes.pod.name=dock-pod",
      "--label",
      "io.kubernetes.container.name=main",
      "--label",
      "io.kubernetes.docker.type=container",
    ],
  );
  const pid = await taskPid(NS, "probec-ctr-app", containerd);
  if (pid === undefined) throw new Error("probec-ctr-app has no running task");
  appPid = pid;
});

afterAll(() => {
  for (const [ns, id] of made) removeCtrContainer(ns, id);
  removeContainers(DOCKER_K8S);
  // The image and namespaces stay, like the dockerd tests' images: the next run reuses them.
});

describe("containerd client (ctr)", () => {
  it("finds the socket from options, CONTAINERD_ADDRESS, then the default", () => {
    expect(containerdSocketPath({ address: "unix:///run/x.sock" })).toBe("/run/x.sock");
    const saved = process.env["CONTAINERD_ADDRESS"];
    try {
      process.env["CONTAINERD_ADDRESS"] = "/run/y.sock";
      expect(containerdSocketPath()).toBe("/run/y.sock");
      delete process.env["CONTAINERD_ADDRESS"];
      expect(containerdSocketPath()).toBe(DEFAULT_CONTAINERD_SOCKET);
    } finally {
      if (saved === undefined) delete process.env["CONTAINERD_ADDRESS"];
      else process.env["CONTAINERD_ADDRESS"] = saved;
    }
  });

  it("lists namespaces, containers with labels, and container info", async () => {
    expect(await listNamespaces(containerd)).toEqual(expect.arrayContaining([NS, NS2]));
    const listed = await listContainers(NS, containerd);
    expect(listed.map((c) => c.id)).toEqual(expect.arrayContaining(["probec-ctr-app", "probec-ctr-sandbox", "probec-ctr-old-app"]));
    const app = listed.find((c) => c.id === "probec-ctr-app");
    expect(app?.image).toBe(IMAGE);
    expect(app?.labels["io.kubernetes.pod.name"]).toBe("web-7d4b9");
    const info = await containerInfo(NS, "probec-ctr-app", containerd);
    expect(info).toMatchObject({
      namespace: NS,
      id: "probec-ctr-app",
      image: IMAGE,
      snapshotter: "overlayfs",
      snapshotKey: "probec-ctr-app",
      runtime: "io.containerd.runc.v2",
    });
    await expect(containerInfo(NS, "probec-ctr-nope", containerd)).rejects.toThrow(NotFoundError);
    expect(await taskPid(NS, "probec-ctr-old-app", containerd)).toBeUndefined();
  });

  it("resolves a prefix across namespaces; refuses ambiguous, unknown and too-short ones", async () => {
    expect((await findContainerdContainer({ id: "probec-ctr-ap" }, containerd)).namespace).toBe(NS);
    expect((await findContainerdContainer({ id: "probec-ctr-multi-b" }, containerd)).namespace).toBe(NS2);
    const ambiguous = await findContainerdContainer({ id: "probec-ctr-multi" }, containerd).catch((e: unknown) => e);
    expect(ambiguous).toBeInstanceOf(AmbiguousError);
    expect((ambiguous as AmbiguousError).candidates).toEqual([`${NS2}/probec-ctr-multi-a`, `${NS2}/probec-ctr-multi-b`]);
    const unknown = await findContainerdContainer({ id: "probec-ctr-apq" }, containerd).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as NotFoundError).hints.join(" ")).toContain('"probec-ctr-app"');
    await expect(findContainerdContainer({ namespace: NS2, id: "probec-ctr-app" }, containerd)).rejects.toThrow(NotFoundError);
    const badNs = await findContainerdContainer({ namespace: "probec-ctr-tset", id: "x" }, containerd).catch((e: unknown) => e);
    expect(badNs).toBeInstanceOf(NotFoundError);
    expect((badNs as NotFoundError).message).toBe('containerd: no namespace "probec-ctr-tset"');
    expect((badNs as NotFoundError).hints.join(" ")).toContain('did you mean "probec-ctr-test"');
    await expect(findContainerdContainer({ id: "pro" }, containerd)).rejects.toThrow(UsageError);
  });

  it("says which socket is missing, and when ctr is", async () => {
    const noSocket = await findContainerdContainer({ id: "x" }, { address: "/run/probec-no-such.sock" }).catch((e: unknown) => e);
    expect(noSocket).toBeInstanceOf(IoError);
    expect((noSocket as IoError).message).toContain("/run/probec-no-such.sock");
    expect((noSocket as IoError).hints.join(" ")).toContain("CONTAINERD_ADDRESS");
    const noCtr = await findContainerdContainer({ id: "x" }, { ...containerd, ctr: "/nonexistent/ctr" }).catch((e: unknown) => e);
    expect(noCtr).toBeInstanceOf(IoError);
    expect((noCtr as IoError).message).toContain("/nonexistent/ctr");
  });
});

describe("resolveScope: containerd", () => {
  it("resolves NAMESPACE/ID to the container, its labels and the task's process", async () => {
    const r = await resolveScope({ kind: "containerd", namespace: NS, id: "probec-ctr-app" }, options);
    expect(r.runtime).toBe("containerd");
    expect(r.containerId).toBe("probec-ctr-app");
    expect(r.containerName).toBe("app");
    expect(r.labels["io.kubernetes.pod.namespace"]).toBe("default");
    expect(r.processes.map((p) => p.pid)).toEqual([appPid]);
    expect(r.processes[0]?.comm).toBe("sleep");
    expect(r.processes[0]?.nsPid.at(-1)).toBe(1);
    // The overlayfs snapshot: upper, then the image's layer, both real directories holding the image's files.
    expect(r.layers).toHaveLength(2);
    expect(r.layers[0]).toMatch(/io\.containerd\.snapshotter\.v1\.overlayfs\/snapshots\/\d+\/fs$/);
    expect(existsSync(join(r.layers[1] as string, "usr/bin/sleep"))).toBe(true);
  });

  it("resolves an id prefix without a namespace", async () => {
    const r = await resolveScope({ kind: "containerd", namespace: undefined, id: "probec-ctr-ap" }, options);
    expect(r.containerId).toBe("probec-ctr-app");
    expect(r.processes.map((p) => p.pid)).toEqual([appPid]);
  });

  it("refuses a container whose task does not run", async () => {
    await expect(resolveScope({ kind: "containerd", namespace: NS, id: "probec-ctr-old-app" }, options)).rejects.toThrow("does not run");
  });

  it("falls back to the cgroup scan when ctr is not installed", async () => {
    const noCtr = { ...options, containerd: { ...containerd, ctr: "/nonexistent/ctr" } };
    await expect(resolveScope({ kind: "containerd", namespace: NS, id: "probec-ctr-app" }, noCtr)).rejects.toThrow("at least 4 hex digits");
  });
});

describe("resolveScope: k8s (from io.kubernetes.* labels)", () => {
  it("resolves NAMESPACE/POD/CONTAINER to the same container", async () => {
    const r = await resolveScope({ kind: "k8s", namespace: "default", pod: "web-7d4b9", container: "app" }, options);
    expect(r).toMatchObject({ runtime: "containerd", containerId: "probec-ctr-app", containerName: "app" });
    expect(r.processes.map((p) => p.pid)).toEqual([appPid]);
    expect(r.layers).toHaveLength(2);
  });

  it("picks the pod's only app container, skipping the sandbox and exited containers", async () => {
    const r = await resolveScope({ kind: "k8s", namespace: "default", pod: "web-7d4b9", container: undefined }, options);
    expect(r.containerId).toBe("probec-ctr-app");
  });

  it("asks which container when the pod runs several", async () => {
    const multi = resolveScope({ kind: "k8s", namespace: "batch", pod: "multi-1", container: undefined }, options);
    await expect(multi).rejects.toThrow(UsageError);
    await expect(multi).rejects.toThrow("the pod runs 2 containers: a, b");
    const b = await resolveScope({ kind: "k8s", namespace: "batch", pod: "multi-1", container: "b" }, options);
    expect(b.containerId).toBe("probec-ctr-multi-b");
  });

  it("names the pods that exist for an unknown pod, and the containers for an unknown container", async () => {
    const unknown = await resolveScope({ kind: "k8s", namespace: "default", pod: "web-7d4b8", container: undefined }, options).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    const hints = (unknown as NotFoundError).hints.join("\n");
    expect(hints).toContain("did you mean default/web-7d4b9?");
    expect(hints).toMatch(/pods: .*batch\/multi-1.*default\/dock-pod.*default\/web-7d4b9/);
    const container = await resolveScope({ kind: "k8s", namespace: "default", pod: "web-7d4b9", container: "ap" }, options).catch((e: unknown) => e);
    expect(container).toBeInstanceOf(NotFoundError);
    expect((container as NotFoundError).hints.join(" ")).toContain("its containers: app");
  });

  it("finds dockershim pods in Docker", async () => {
    const r = await resolveScope({ kind: "k8s", namespace: "default", pod: "dock-pod", container: undefined }, options);
    expect(r.runtime).toBe("docker");
    expect(r.containerName).toBe(DOCKER_K8S);
    expect(r.labels["io.kubernetes.container.name"]).toBe("main");
    expect(r.processes.map((p) => p.comm)).toEqual(["sleep"]);
  });
});
