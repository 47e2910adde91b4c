/**
 * CRI-O's own fields, on a fixture store. THIS IS A MOCK: CRI-O has no
 * package on this Debian machine and cannot run here, and Podman (which
 * shares CRI-O's containers/storage format, see crio-storage.test.ts) cannot
 * write CRI-O's metadata or its io.kubernetes.* annotations. So the test
 * writes a store tree itself: a copy of a REAL containers.json entry (taken
 * from a container the tests' Podman runs) with the `metadata` CRI-O's
 * RuntimeContainerMetadata would hold, names in CRI-O's
 * `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` form, a userdata/config.json
 * with io.kubernetes.* / io.kubernetes.cri-o.* annotations, a pidfile naming
 * a real process (a sleep this test spawns) and a conmon exit file.
 *
 * Also: hostile files (truncated JSON, bad ids, a huge file) give a
 * FormatError / LimitError naming the file; no store is an IoError naming
 * the paths and the fix.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AmbiguousError, FormatError, IoError, LimitError, NotFoundError, ProbecError } from "../../../src/errors.js";
import { findCrioContainer, listStorageContainers, MAX_LIST_BYTES, type CrioOptions } from "../../../src/discovery/runtimes/crio.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { ensurePodmanService, importPodmanImage, removePodmanContainers, runPodmanContainer } from "../../support/podman.js";

const IMAGE = "probec-podman-sleep";
const SOURCE = "probec-crio-fixture-src";
const POD_UID = "3c1a6f0e-8a43-4d8e-9d2b-2f7f0b1d2e11";
const POD_ID = "b".repeat(64);
const ID_APP = `a1${"0".repeat(60)}a1`;
const ID_SIDE = `a1${"0".repeat(60)}b2`;
const ID_OLD = `c3${"0".repeat(62)}`;
const ID_VOLATILE = `d4${"0".repeat(62)}`;

let dir: string;
let options: CrioOptions;
let sleeper: ChildProcess;
let realEntry: Record<string, unknown>;

function crioMetadata(name: string, metadataName: string, id: string): string {
  return JSON.stringify({
    "pod-name": "web-7d4b9c",
    "pod-id": POD_ID,
    "image-name": "docker.io/library/nginx:1.25",
    "image-id": realEntry["image"],
    name,
    "metadata-name": metadataName,
    "created-at": 1795320000,
    attempt: 0,
    ...(id === POD_ID ? { pod: true } : {}),
  });
}

function entry(id: string, container: string): Record<string, unknown> {
  const name = `k8s_${container}_web-7d4b9c_default_${POD_UID}_0`;
  return { ...realEntry, id, names: [name], metadata: crioMetadata(name, container, id) };
}

function writeSpec(root: string, id: string, container: string): void {
  mkdirSync(join(root, "overlay-containers", id, "userdata"), { recursive: true });
  const annotations = {
    "io.kubernetes.container.name": container,
    "io.kubernetes.pod.name": "web-7d4b9c",
    "io.kubernetes.pod.namespace": "default",
    "io.kubernetes.pod.uid": POD_UID,
    "io.kubernetes.cri-o.ContainerID": id,
    "io.kubernetes.cri-o.ContainerType": "container",
    "io.kubernetes.cri-o.SandboxID": POD_ID,
    "io.kubernetes.cri-o.Name": `k8s_${container}_web-7d4b9c_default_${POD_UID}_0`,
    "io.kubernetes.cri-o.ImageName": "docker.io/library/nginx:1.25",
  };
  writeFileSync(
    join(root, "overlay-containers", id, "userdata", "config.json"),
    JSON.stringify({ ociVersion: "1.0.2-dev", process: { args: ["nginx"] }, annotations }),
  );
}

function writePidfile(run: string, id: string, pid: number): void {
  mkdirSync(join(run, "overlay-containers", id, "userdata"), { recursive: true });
  writeFileSync(join(run, "overlay-containers", id, "userdata", "pidfile"), `${pid}`);
}

beforeAll(async () => {
  // The real entry this mock copies: what containers/storage wrote for a real container.
  await ensurePodmanService();
  importPodmanImage(IMAGE);
  const realId = runPodmanContainer(IMAGE, SOURCE, ["/usr/bin/sleep", "600"]);
  const list = JSON.parse(readFileSync("/var/lib/probec-test-podman/overlay-containers/containers.json", "utf8")) as Record<string, unknown>[];
  realEntry = list.find((e) => e["id"] === realId)!;
  expect(Object.keys(realEntry).sort()).toEqual(["created", "flags", "id", "image", "layer", "metadata", "names"]);

  dir = mkdtempSync(join(tmpdir(), "probec-crio-"));
  const root = join(dir, "root");
  const run = join(dir, "run");
  options = { storageRoot: root, runRoot: run, exitsDir: join(dir, "exits") };
  mkdirSync(join(root, "overlay-containers"), { recursive: true });
  mkdirSync(join(run, "overlay-containers"), { recursive: true });
  mkdirSync(join(dir, "exits"));
  writeFileSync(join(root, "overlay-containers", "containers.json"), JSON.stringify([entry(ID_APP, "app"), entry(ID_SIDE, "sidecar"), entry(ID_OLD, "old")]));
  // CRI-O creates its containers volatile: they are listed in volatile-containers.json.
  writeFileSync(join(root, "overlay-containers", "volatile-containers.json"), JSON.stringify([entry(ID_VOLATILE, "vol")]));
  for (const [id, name] of [
    [ID_APP, "app"],
    [ID_SIDE, "sidecar"],
    [ID_OLD, "old"],
    [ID_VOLATILE, "vol"],
  ] as const)
    writeSpec(root, id, name);
  sleeper = spawn("/usr/bin/sleep", ["600"], { stdio: "ignore" });
  writePidfile(run, ID_APP, sleeper.pid!);
  writePidfile(run, ID_OLD, 2 ** 22 + 7); // beyond pid_max: no such process
  writeFileSync(join(dir, "exits", ID_OLD), "137");
}, 120_000);

afterAll(() => {
  sleeper?.kill();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  removePodmanContainers(SOURCE);
}, 60_000);

function thrown(f: () => unknown): ProbecError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ProbecError);
    return error as ProbecError;
  }
  throw new Error("did not throw");
}

describe("CRI-O's metadata and annotations (mock store)", () => {
  test("lists both lists, with CRI-O's metadata parsed and the annotations", () => {
    const all = listStorageContainers(options);
    expect(all.map((c) => c.id)).toEqual([ID_APP, ID_SIDE, ID_OLD, ID_VOLATILE]);
    const app = all[0]!;
    expect(app.metadata).toMatchObject({ "pod-name": "web-7d4b9c", "pod-id": POD_ID, "metadata-name": "app" });
    expect(app.annotations["io.kubernetes.pod.namespace"]).toBe("default");
    expect(all[3]!.source).toMatch(/volatile-containers\.json$/);
  });

  test("finds by io.kubernetes.container.name, store name, prefix; pid from the pidfile", () => {
    for (const ref of ["app", `k8s_app_web-7d4b9c_default_${POD_UID}_0`, ID_APP, `${ID_APP.slice(0, 62)}a`]) {
      const found = findCrioContainer(ref, options);
      expect(found.id).toBe(ID_APP);
      expect(found.name).toBe("app");
      expect(found.pid).toBe(sleeper.pid);
    }
    expect(findCrioContainer("vol", options).id).toBe(ID_VOLATILE);
  });

  test("a container whose process is gone has no pid, and the exit code from the exits dir", () => {
    const old = findCrioContainer("old", options);
    expect(old.pid).toBeUndefined();
    expect(old.exitCode).toBe(137);
  });

  test("an ambiguous id prefix is an AmbiguousError listing both", () => {
    const error = thrown(() => findCrioContainer(ID_APP.slice(0, 12), options));
    expect(error).toBeInstanceOf(AmbiguousError);
    expect((error as AmbiguousError).candidates).toHaveLength(2);
  });

  test("an unknown name is a NotFoundError with the nearest names", () => {
    const error = thrown(() => findCrioContainer("sidecat", options));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.hints.join(" ")).toContain(`"sidecar"`);
  });

  test("resolveScope: runtime crio, the annotations as labels, the pidfile's process (no cgroup names the mock id)", async () => {
    const scope = await resolveScope({ kind: "crio", id: "app" }, { crio: options });
    expect(scope.runtime).toBe("crio");
    expect(scope.containerId).toBe(ID_APP);
    expect(scope.containerName).toBe("app");
    expect(scope.labels["io.kubernetes.pod.name"]).toBe("web-7d4b9c");
    expect(scope.processes.map((p) => p.pid)).toEqual([sleeper.pid]);
    await expect(resolveScope({ kind: "crio", id: "old" }, { crio: options })).rejects.toThrow(/does not run: it exited with code 137/);
  });
});

describe("hostile and missing files", () => {
  function store(name: string, list: string | Buffer): CrioOptions {
    const root = join(dir, name);
    mkdirSync(join(root, "overlay-containers"), { recursive: true });
    writeFileSync(join(root, "overlay-containers", "containers.json"), list);
    return { storageRoot: root, runRoot: join(dir, `${name}-run`) };
  }

  test("no store: an IoError naming the paths and the fix", () => {
    const error = thrown(() => findCrioContainer("app", { storageRoot: join(dir, "none"), runRoot: join(dir, "none-run") }));
    expect(error).toBeInstanceOf(IoError);
    expect(error.message).toContain(join(dir, "none", "overlay-containers", "containers.json"));
    expect(error.hints.join(" ")).toMatch(/storageRoot and runRoot/);
  });

  test("truncated containers.json: a FormatError naming the file", () => {
    const text = JSON.stringify([entry(ID_APP, "app")]);
    const options = store("truncated", text.slice(0, text.length - 20));
    const error = thrown(() => listStorageContainers(options));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toContain(join(dir, "truncated", "overlay-containers", "containers.json"));
  });

  test.each([
    ["not an array", `{"id":"x"}`, /not a JSON array/],
    ["a path-traversing id", JSON.stringify([{ id: "../../../etc", names: [] }]), /container 0: "id" is not 64 hex digits/],
    ["names not strings", JSON.stringify([{ id: ID_APP, names: [1] }]), /"names" is not a list of strings/],
    ["deep nesting", "[".repeat(1_000_000), /malformed JSON/],
  ])("%s: a FormatError", (name, text, message) => {
    const error = thrown(() => listStorageContainers(store(name.replace(/\W/g, "-"), text)));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(message);
  });

  test("a bad config.json or pidfile: a FormatError naming it", () => {
    const options = store("badspec", JSON.stringify([entry(ID_APP, "app")]));
    const userdata = join(options.storageRoot!, "overlay-containers", ID_APP, "userdata");
    mkdirSync(userdata, { recursive: true });
    writeFileSync(join(userdata, "config.json"), `{"annotations": [1, 2`);
    expect(() => listStorageContainers(options)).toThrow(join(userdata, "config.json"));
    writeFileSync(join(userdata, "config.json"), `{"annotations": {"io.kubernetes.container.name": "app"}}`);
    writePidfile(options.runRoot!, ID_APP, 1);
    writeFileSync(join(options.runRoot!, "overlay-containers", ID_APP, "userdata", "pidfile"), "12; rm -rf /");
    const error = thrown(() => findCrioContainer("app", options));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toContain("pidfile");
  });

  test("a huge containers.json (sparse, past the cap): a LimitError before any read", () => {
    const options = store("huge", "");
    const file = join(options.storageRoot!, "overlay-containers", "containers.json");
    truncateSync(file, MAX_LIST_BYTES + 1);
    const error = thrown(() => listStorageContainers(options));
    expect(error).toBeInstanceOf(LimitError);
    expect(error.message).toContain(file);
  });
});
