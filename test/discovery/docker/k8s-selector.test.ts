/**
 * `k8s/NS/SELECTOR` over Docker, labelled as cri-dockerd (and dockershim
 * before it) labels a pod's containers: the sandbox ("pause") container
 * carries the pod's labels plus io.kubernetes.pod.{name,namespace,uid} and
 * io.kubernetes.docker.type=podsandbox; each app container only the
 * io.kubernetes.* labels (io.kubernetes.docker.type=container). No
 * cri-dockerd is installed here, so the tests' dockerd runs containers with
 * exactly those labels; selection must take the pod labels from the
 * sandbox and return only the app containers.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { selectContainers } from "../../../src/discovery/select.js";
import { NotFoundError } from "../../../src/errors.js";
import { parseTargetSpec, type SelectorScope } from "../../../src/dsl/target-spec.js";
import { ensureDockerd, importBinariesImage, removeContainers, runContainer } from "../../support/dockerd.js";

const IMAGE = "probec-e2e-sleep";
const NAMES = ["k8s_POD_front-1_probec-k8s_u1_0", "k8s_app_front-1_probec-k8s_u1_0", "k8s_POD_back-1_probec-k8s_u2_0", "k8s_app_back-1_probec-k8s_u2_0"];
let options: { docker: { host: string }; containerd: { address: string } };

function labels(map: Record<string, string>): string[] {
  return Object.entries(map).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
}

function scope(text: string): SelectorScope {
  const s = parseTargetSpec(text).scope;
  if (s.kind !== "select") throw new Error(`${text} is not a selector scope`);
  return s;
}

beforeAll(async () => {
  const host = await ensureDockerd();
  // Only Docker: the containerd socket named here does not exist, so containerd is skipped.
  options = { docker: { host }, containerd: { address: "/run/probec-no-such-containerd.sock" } };
  importBinariesImage(IMAGE);
  const pods = [
    { pod: "front-1", uid: "u1", podLabels: { app: "front", tier: "web" } },
    { pod: "back-1", uid: "u2", podLabels: { app: "back", tier: "api" } },
  ];
  for (const { pod, uid, podLabels } of pods) {
    const kube = { "io.kubernetes.pod.name": pod, "io.kubernetes.pod.namespace": "probec-k8s", "io.kubernetes.pod.uid": uid };
    runContainer(
      IMAGE,
      `k8s_POD_${pod}_probec-k8s_${uid}_0`,
      ["/usr/bin/sleep", "600"],
      labels({ ...podLabels, ...kube, "io.kubernetes.docker.type": "podsandbox" }),
    );
    runContainer(
      IMAGE,
      `k8s_app_${pod}_probec-k8s_${uid}_0`,
      ["/usr/bin/sleep", "600"],
      labels({ ...kube, "io.kubernetes.container.name": "app", "io.kubernetes.docker.type": "container" }),
    );
  }
}, 120_000);

afterAll(() => removeContainers(...NAMES));

test("pod labels come from the sandbox; only app containers are picked", async () => {
  const picked = await selectContainers(scope("k8s/probec-k8s/tier=web"), options);
  expect(picked.map((c) => [c.runtime, c.name, c.pod?.name, c.pod?.container, c.pod?.labels["app"]])).toEqual([
    ["docker", "k8s_app_front-1_probec-k8s_u1_0", "front-1", "app", "front"],
  ]);
  const all = await selectContainers(scope("k8s/probec-k8s/*/app"), options);
  expect(all.map((c) => c.pod?.name)).toEqual(["back-1", "front-1"]);
  const named = await selectContainers(scope("k8s/*/back-1/app,sidecar"), options);
  expect(named.map((c) => c.name)).toEqual(["k8s_app_back-1_probec-k8s_u2_0"]);
});

test("a selector no pod matches lists the pods with their labels", async () => {
  const error = (await selectContainers(scope("k8s/probec-k8s/app=none"), options).catch((e: unknown) => e)) as NotFoundError;
  expect(error).toBeInstanceOf(NotFoundError);
  expect(error.message).toBe('k8s/probec-k8s/app=none: no running pod in namespace "probec-k8s" matches "app=none"');
  expect(error.hints).toEqual(["pods: probec-k8s/back-1 (app=back,tier=api; containers: app); probec-k8s/front-1 (app=front,tier=web; containers: app)"]);
});
