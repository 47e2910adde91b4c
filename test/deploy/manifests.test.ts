/**
 * deploy/kubernetes/ checked without a cluster: what the DaemonSet must say
 * (issue 14: hostPID, not privileged, the measured capabilities, read-only
 * host mounts, `run … --follow --json`, the scrape annotations), a probe
 * file that probec accepts, and the drift check: the pod settings derived
 * from the manifest (manifests.ts) must equal the checked-in
 * expected-docker-run.json, and an edit of a copy of the manifest must
 * change the derivation, or be refused by name when the derivation cannot
 * carry it. Regenerate the expectation after a reviewed manifest change
 * with UPDATE_GOLDEN=1.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkProbeFile, parseProbeFile } from "../../src/dsl/index.js";
import { parseAllDocuments } from "yaml";
import { find, type KubeObject, loadKustomization, MANIFEST_DIR, type PodSettings, podSettings } from "./manifests.js";
import { dockerRunArgs, type MountSources } from "./runtime-args.js";

const EXPECTED = new URL("./expected-docker-run.json", import.meta.url).pathname;
/** The capabilities measured in deploy/kubernetes/README.md ("Capabilities"). */
const MEASURED_CAPABILITIES = ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "CHECKPOINT_RESTORE"];

const objects = loadKustomization();
const daemonset = find(objects, "DaemonSet", "probec");
const configmap = find(objects, "ConfigMap", "probec-probes");

/** A node's own paths, and the ConfigMap as a directory beside the command. */
const NODE_SOURCES: MountSources = {
  hostPath: (path) => path,
  configMap: () => "$PWD/probec-config",
  emptyDir: () => "$PWD/probec-tmp",
};

function settingsOf(objectsOrDaemonset: KubeObject = daemonset): PodSettings {
  return podSettings(objectsOrDaemonset, objects);
}

/** A loosely typed manifest node: the edits below reach into any field, as a person editing the YAML would. */
// biome-ignore lint/suspicious/noExplicitAny: test edits of arbitrary manifest fields
type Loose = any;

/** A deep copy of the DaemonSet with `edit` applied to its pod spec's one container (and the pod spec). */
function edited(edit: (container: Loose, pod: Loose) => void): KubeObject {
  const copy = structuredClone(daemonset) as Loose;
  edit(copy.spec.template.spec.containers[0], copy.spec.template.spec);
  return copy as KubeObject;
}

describe("deploy/kubernetes/", () => {
  it("holds a Namespace, a ServiceAccount without a token, the ConfigMap and the DaemonSet, all in namespace probec", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/probec",
      "ServiceAccount/probec",
      "ConfigMap/probec-probes",
      "DaemonSet/probec",
    ]);
    for (const o of objects.slice(1)) expect(o.metadata.namespace).toBe("probec");
    expect(find(objects, "ServiceAccount")["automountServiceAccountToken"]).toBe(false);
  });

  it("the DaemonSet: hostPID, not privileged, drop ALL and add exactly the measured capabilities, host mounts read-only", () => {
    const pod = settingsOf();
    expect(pod.hostPid).toBe(true);
    expect(pod.privileged).toBe(false);
    expect(pod.noNewPrivileges).toBe(true);
    expect(pod.readOnlyRootFilesystem).toBe(true);
    expect(pod.capabilities).toEqual({ drop: ["ALL"], add: MEASURED_CAPABILITIES });
    expect(pod.seccomp).toBe("RuntimeDefault");
    for (const m of pod.mounts) if (m.kind !== "emptyDir") expect([m.path, m.readOnly]).toEqual([m.path, true]);
    expect(pod.mounts.filter((m) => m.kind === "hostPath").map((m) => m.path)).toEqual([
      "/sys/kernel/tracing",
      "/run/containerd",
      "/var/run/crio",
      "/var/lib/containers/storage",
      "/run/containers/storage",
    ]);
  });

  it("runs the ConfigMap's probe file with --follow --json, and the scrape annotations name a port of the container", () => {
    const pod = settingsOf();
    expect(pod.args.slice(0, 4)).toEqual(["run", "/etc/probec/probes.probe", "--follow", "--json"]);
    const mount = pod.mounts.find((m) => m.kind === "configMap");
    expect(mount?.path).toBe("/etc/probec");
    expect(Object.keys(mount?.kind === "configMap" ? mount.files : {})).toEqual(["probes.probe"]);
    expect(pod.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": "9464", "prometheus.io/path": "/metrics" });
    expect(pod.ports).toEqual([{ containerPort: 9464, protocol: "TCP" }]);
    expect(pod.args.slice(4)).toEqual(["--metrics", `0.0.0.0:${pod.annotations["prometheus.io/port"]}`]);
  });

  it("the ConfigMap's probe file parses and checks clean: two probes on getaddrinfo over the labelled pods", () => {
    const source = (configmap["data"] as Record<string, string>)["probes.probe"]!;
    const parsed = parseProbeFile(source, "probes.probe");
    expect(parsed.diagnostics).toEqual([]);
    const checked = checkProbeFile(parsed.ast);
    expect(checked.diagnostics).toEqual([]);
    expect(checked.probes).toHaveLength(2);
    expect(source).toContain('let traced = k8s/*/"probec.io/trace"');
  });

  it("docker-socket.yaml patches the same DaemonSet's one container with Docker's socket, read-only and only where it is a socket", () => {
    const patch = parseAllDocuments(readFileSync(`${MANIFEST_DIR}docker-socket.yaml`, "utf8"))[0]!.toJS() as Loose;
    expect([patch.kind, patch.metadata.name, patch.metadata.namespace]).toEqual(["DaemonSet", daemonset.metadata.name, daemonset.metadata.namespace]);
    expect(patch.spec.template.spec.containers).toEqual([
      {
        name: (daemonset as Loose).spec.template.spec.containers[0].name,
        volumeMounts: [{ name: "docker", mountPath: "/var/run/docker.sock", readOnly: true }],
      },
    ]);
    expect(patch.spec.template.spec.volumes).toEqual([{ name: "docker", hostPath: { path: "/var/run/docker.sock", type: "Socket" } }]);
  });

  it("derives the docker run arguments kept in expected-docker-run.json (UPDATE_GOLDEN=1 rewrites them)", () => {
    const derived = { dockerRun: ["docker", "run", "--detach", "--name", "probec", ...dockerRunArgs(settingsOf(), NODE_SOURCES)] };
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(EXPECTED, `${JSON.stringify(derived, null, 2)}\n`);
    expect(derived).toEqual(JSON.parse(readFileSync(EXPECTED, "utf8")));
  });
});

describe("drift: an edit of the manifest changes the derived settings, or is refused by name", () => {
  const base = dockerRunArgs(settingsOf(), NODE_SOURCES);
  const derive = (d: KubeObject) => dockerRunArgs(settingsOf(d), NODE_SOURCES);

  it("a capability removed or added", () => {
    const fewer = derive(edited((c) => c.securityContext.capabilities.add.splice(c.securityContext.capabilities.add.indexOf("SYS_PTRACE"), 1)));
    expect(base.filter((a) => !fewer.includes(a))).toEqual(["SYS_PTRACE"]);
    const more = derive(edited((c) => c.securityContext.capabilities.add.push("SYS_ADMIN")));
    expect(more.filter((a) => !base.includes(a))).toEqual(["SYS_ADMIN"]);
  });

  it("privileged, hostPID, allowPrivilegeEscalation and readOnlyRootFilesystem flipped", () => {
    expect(derive(edited((c) => (c.securityContext.privileged = true)))).toContain("--privileged");
    expect(derive(edited((_, pod) => (pod.hostPID = false))).join(" ")).not.toContain("--pid host");
    expect(derive(edited((c) => (c.securityContext.allowPrivilegeEscalation = true)))).not.toContain("no-new-privileges");
    expect(derive(edited((c) => (c.securityContext.readOnlyRootFilesystem = false)))).not.toContain("--read-only");
  });

  it("a mount made writable, and the args changed", () => {
    const writable = derive(edited((c) => (c.volumeMounts.find((m: { name: string }) => m.name === "containerd").readOnly = false)));
    expect(writable).toContain("type=bind,source=/run/containerd,target=/run/containerd");
    expect(base).toContain("type=bind,source=/run/containerd,target=/run/containerd,readonly");
    expect(derive(edited((c) => c.args.splice(4))).slice(-1)).toEqual(["--json"]);
  });

  it("the limits changed", () => {
    const bigger = derive(edited((c) => (c.resources.limits.memory = "1Gi")));
    expect(bigger[bigger.indexOf("--memory") + 1]).toBe(String(2 ** 30));
  });

  it("a field the derivation does not carry (runAsUser, a new volume type, hostNetwork) is an error naming it", () => {
    expect(() => settingsOf(edited((c) => (c.securityContext.runAsUser = 1000)))).toThrow(/^containers\[0\]\.securityContext\.runAsUser: not carried over/);
    expect(() =>
      settingsOf(
        edited((c, pod) => {
          pod.volumes.push({ name: "data", persistentVolumeClaim: { claimName: "x" } });
          c.volumeMounts.push({ name: "data", mountPath: "/data" });
        }),
      ),
    ).toThrow("volumes[data]: only hostPath, configMap and emptyDir volumes are carried over");
    expect(() => settingsOf(edited((_, pod) => (pod.hostNetwork = true)))).toThrow(/^spec\.template\.spec\.hostNetwork: not carried over/);
  });
});
