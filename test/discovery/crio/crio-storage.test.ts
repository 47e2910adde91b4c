/**
 * CRI-O's state files, read from a REAL containers/storage store: CRI-O has
 * no Debian package and cannot run here, but it keeps its containers in
 * containers/storage, the library and on-disk format Podman uses. So the
 * tests' own Podman (test/support/podman.ts: storage root
 * /var/lib/probec-test-podman, run root /run/probec-test-podman) runs a
 * container, and findCrioContainer / resolveScope(crio/…) must find it in
 * that store by full id, id prefix and name, with the pidfile's pid equal to
 * `podman inspect` State.Pid, whose /proc cgroup names the id.
 *
 * What Podman cannot produce (CRI-O's metadata and io.kubernetes.*
 * annotations) is covered by crio-fixture.test.ts. The container is removed
 * in afterAll; the podman service keeps running.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { crioStorageExists, findCrioContainer, listStorageContainers } from "../../../src/discovery/runtimes/crio.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { ensurePodmanService, importPodmanImage, podman, removePodmanContainers, runPodmanContainer } from "../../support/podman.js";

const IMAGE = "probec-podman-sleep";
const NAME = "probec-crio-real";
const crio = { storageRoot: "/var/lib/probec-test-podman", runRoot: "/run/probec-test-podman" };

let id: string;
let statePid: number;

beforeAll(async () => {
  await ensurePodmanService();
  importPodmanImage(IMAGE);
  id = runPodmanContainer(IMAGE, NAME, ["/usr/bin/sleep", "600"]);
  statePid = Number(podman(["inspect", "--format", "{{.State.Pid}}", NAME]));
}, 120_000);

afterAll(() => {
  removePodmanContainers(NAME);
}, 60_000);

describe("listStorageContainers on Podman's real store", () => {
  test("lists the container with its names, image id and Podman's metadata", () => {
    expect(crioStorageExists(crio)).toBe(true);
    const entry = listStorageContainers(crio).find((c) => c.id === id);
    expect(entry).toBeDefined();
    expect(entry!.names).toEqual([NAME]);
    expect(entry!.image).toMatch(/^[0-9a-f]{64}$/);
    expect(entry!.image).toBe(podman(["image", "inspect", "--format", "{{.Id}}", IMAGE]));
    // Podman's metadata: { image-name, image-id, name, created-at } (CRI-O's has pod-name, pod-id, … too).
    expect(entry!.metadata).toMatchObject({ name: NAME, "image-id": entry!.image, "image-name": `localhost/${IMAGE}:latest` });
    expect(entry!.source).toBe("/var/lib/probec-test-podman/overlay-containers/containers.json");
    // Podman's config.json carries a few annotations too (io.container.manager=libpod, and a cri-o one it shares).
    expect(entry!.annotations["io.container.manager"]).toBe("libpod");
    expect(entry!.annotations["io.kubernetes.cri-o.TTY"]).toBe("false");
  });
});

describe("findCrioContainer on Podman's real store", () => {
  test.each([
    ["full id", () => id],
    ["id prefix", () => id.slice(0, 12)],
    ["4-digit prefix", () => id.slice(0, 4)],
    ["name", () => NAME],
  ])("finds it by %s, with the pidfile's pid", (_what, ref) => {
    const found = findCrioContainer(ref(), crio);
    expect(found.id).toBe(id);
    expect(found.name).toBe(NAME);
    expect(found.pid).toBe(statePid);
    expect(found.exitCode).toBeUndefined();
    expect(readFileSync(`/proc/${found.pid}/cgroup`, "utf8")).toContain(id);
    expect(Number(readFileSync(`/run/probec-test-podman/overlay-containers/${id}/userdata/pidfile`, "utf8"))).toBe(statePid);
  });

  test("an unknown name is a NotFoundError naming the nearest", () => {
    expect(() => findCrioContainer("probec-crio-reel", crio)).toThrow(NotFoundError);
    expect(() => findCrioContainer("probec-crio-reel", crio)).toThrow(/crio\/probec-crio-reel: no container has that id or name/);
    try {
      findCrioContainer("probec-crio-reel", crio);
    } catch (error) {
      expect((error as NotFoundError).hints.join("\n")).toContain(`"${NAME}"`);
    }
  });
});

describe("resolveScope(crio/…) through the storage files", () => {
  test.each([
    ["full id", () => id],
    ["id prefix", () => id.slice(0, 10)],
    ["name", () => NAME],
  ])("by %s: runtime crio, id, name, and the container's processes", async (_what, ref) => {
    const scope = await resolveScope({ kind: "crio", id: ref() }, { crio });
    expect(scope.runtime).toBe("crio");
    expect(scope.containerId).toBe(id);
    expect(scope.containerName).toBe(NAME);
    expect(scope.labels["io.container.manager"]).toBe("libpod");
    expect(scope.processes.map((p) => p.pid)).toEqual([statePid]);
    expect(scope.processes[0]!.container?.id).toBe(id);
    expect(scope.processes[0]!.comm).toBe("sleep");
  });

  test("without a store at the paths, keeps the cgroup-id fallback", async () => {
    const none = { storageRoot: "/nonexistent/probec-crio", runRoot: "/nonexistent/probec-crio-run" };
    expect(crioStorageExists(none)).toBe(false);
    const scope = await resolveScope({ kind: "crio", id: id.slice(0, 12) }, { crio: none });
    expect(scope.containerId).toBe(id);
    expect(scope.containerName).toBeUndefined();
    expect(scope.processes.map((p) => p.pid)).toEqual([statePid]);
  });
});
