/**
 * `parseCgroup` and `containerIdFromCgroup`, table-driven over cgroup paths
 * as each runtime and cgroup driver lays them out (shapes taken from
 * `systemctl status` / `systemd-cgls` output in runtime bug reports).
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { FormatError, LimitError } from "../../../src/errors.js";
import { containerIdFromCgroup, containerInPath, parseCgroup, type CgroupContainer } from "../../../src/discovery/proc/cgroup.js";

const ID = "3601745b3bd54d9780436faa5f0e4f72bb46231663bb99a6bb892764917832c2";
const ID2 = "0ba8ac17e4e7a31fb82279503552fe94e64bab4745bf6fd2ff231e7c8ca8bed0";
const UID = "2ca4a155-3599-498d-bb9d-4446693fa3ea";
const UID_ = UID.replaceAll("-", "_");
const STATIC = "1864dd0546310be9937c37cf88024cb8";

type Expected = Omit<CgroupContainer, "cgroupPath"> | undefined;
const cases: [string, string, Expected][] = [
  ["docker, cgroupfs driver", `/docker/${ID}`, { runtime: "docker", id: ID }],
  ["docker, systemd driver", `/system.slice/docker-${ID}.scope`, { runtime: "docker", id: ID }],
  [
    "containerd CRI, systemd, burstable",
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    { runtime: "containerd", id: ID, podUid: UID },
  ],
  [
    "containerd CRI, systemd, guaranteed",
    `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    { runtime: "containerd", id: ID, podUid: UID },
  ],
  [
    "CRI-O, systemd, besteffort",
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`,
    { runtime: "crio", id: ID, podUid: UID },
  ],
  [
    "CRI-O, static pod (hash uid)",
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC}.slice/crio-${ID}.scope`,
    { runtime: "crio", id: ID, podUid: STATIC },
  ],
  ["CRI-O conmon is not the container", `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`, undefined],
  ["CRI-O, cgroupfs driver", `/kubepods/burstable/pod${UID}/crio-${ID}`, { runtime: "crio", id: ID, podUid: UID }],
  ["kubepods cgroupfs, burstable (runtime unknown)", `/kubepods/burstable/pod${UID}/${ID}`, { runtime: "cri", id: ID, podUid: UID }],
  ["kubepods cgroupfs, guaranteed", `/kubepods/pod${UID}/${ID}`, { runtime: "cri", id: ID, podUid: UID }],
  [
    "dockershim, systemd",
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${ID}.scope`,
    { runtime: "docker", id: ID, podUid: UID },
  ],
  ["podman, systemd (root)", `/machine.slice/libpod-${ID}.scope/container`, { runtime: "podman", id: ID }],
  ["podman, rootless", `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, { runtime: "podman", id: ID }],
  ["podman, cgroupfs", `/libpod_parent/libpod-${ID}`, { runtime: "podman", id: ID }],
  ["podman conmon is not the container", `/machine.slice/libpod-conmon-${ID}.scope`, undefined],
  ["nerdctl, systemd", `/system.slice/nerdctl-${ID}.scope`, { runtime: "containerd", id: ID }],
  [
    "kind / minikube node: the innermost container wins",
    `/docker/${ID}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID2}.scope`,
    { runtime: "crio", id: ID2, podUid: UID },
  ],
  ["kind, cgroupfs kubelet under the node", `/docker/${ID}/kubelet/kubepods/burstable/pod${UID}/${ID2}`, { runtime: "cri", id: ID2, podUid: UID }],
  ["host process", "/user.slice/user-0.slice/session-3.scope", undefined],
  ["container daemon itself", "/system.slice/containerd.service", undefined],
  ["root (own cgroup namespace)", "/", undefined],
  ["bare id not under docker or a pod", `/actions_job/${ID}`, undefined],
  ["short id is not an id", `/docker/${ID.slice(0, 12)}`, undefined],
  ["upper-case hex is not a runtime id", `/docker/${ID.toUpperCase()}`, undefined],
];

describe("containerInPath", () => {
  test.each(cases)("%s", (_name, path, expected) => {
    const found = containerInPath(path);
    expect(found).toEqual(expected === undefined ? undefined : { ...expected, cgroupPath: path });
  });
});

describe("parseCgroup", () => {
  test("v1 hierarchies with controller lists and a v2 line", () => {
    const entries = parseCgroup(readFileSync(new URL("fixtures/cgroup-v1-docker.txt", import.meta.url), "utf8"));
    expect(entries).toHaveLength(6);
    expect(entries[3]).toEqual({ hierarchyId: 4, controllers: ["cpu", "cpuacct"], path: `/docker/${ID}` });
    expect(entries[4]?.controllers).toEqual(["name=systemd"]);
    expect(entries[5]).toEqual({ hierarchyId: 0, controllers: [], path: "/system.slice/containerd.service" });
  });

  test("a path may contain colons", () => {
    expect(parseCgroup("0::/a:b:c\n")).toEqual([{ hierarchyId: 0, controllers: [], path: "/a:b:c" }]);
  });

  test("malformed lines and caps", () => {
    expect(() => parseCgroup("0::/\nnot a cgroup line\n", "/proc/3/cgroup")).toThrow(
      '/proc/3/cgroup: line 2 is not "hierarchy-id:controllers:path": "not a cgroup line"',
    );
    expect(() => parseCgroup("x:cpu:/\n")).toThrow(FormatError);
    expect(() => parseCgroup("0::/\n".repeat(2000))).toThrow(LimitError);
  });
});

describe("containerIdFromCgroup", () => {
  test("v1 docker: the v2 line names the daemon's unit, a v1 line names the container", () => {
    const entries = parseCgroup(readFileSync(new URL("fixtures/cgroup-v1-docker.txt", import.meta.url), "utf8"));
    expect(containerIdFromCgroup(entries)).toEqual({ runtime: "docker", id: ID, cgroupPath: `/docker/${ID}` });
  });

  test("the v2 entry is preferred over v1 entries", () => {
    const entries = parseCgroup(`1:name=systemd:/docker/${ID}\n0::/system.slice/docker-${ID2}.scope\n`);
    expect(containerIdFromCgroup(entries)?.id).toBe(ID2);
  });

  test("no container anywhere is undefined", () => {
    expect(containerIdFromCgroup(parseCgroup("0::/\n"))).toBeUndefined();
    expect(containerIdFromCgroup([])).toBeUndefined();
  });
});
