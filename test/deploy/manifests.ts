/**
 * deploy/kubernetes/ as the DaemonSet test reads it: the files its
 * kustomization.yaml lists, parsed (the `yaml` package), and the one pod
 * the DaemonSet makes on each node reduced to {@link PodSettings}: what a
 * container runtime is told to run. The test runs that pod for real from
 * these settings, and compares them with a checked-in expectation, so the
 * manifest cannot change without the test seeing it.
 *
 * The reduction refuses what it does not know (a field it would otherwise
 * drop, a second container, a volume type it cannot mount, a privileged or
 * host-network pod): a manifest edit that the test could not carry over is
 * an error naming the field, never a silently different run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** The repository's manifests. */
export const MANIFEST_DIR = new URL("../../deploy/kubernetes/", import.meta.url).pathname;

/** One Kubernetes object, as parsed. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

/** Every object of the files `kustomization.yaml` in `dir` lists under `resources`, in order. */
export function loadKustomization(dir = MANIFEST_DIR): KubeObject[] {
  const kustomization = parseOne(join(dir, "kustomization.yaml")) as { resources?: unknown };
  if (!Array.isArray(kustomization.resources)) throw new Error(`${join(dir, "kustomization.yaml")}: no resources list`);
  return kustomization.resources.flatMap((file: unknown) => parseFile(join(dir, String(file))));
}

function parseOne(file: string): unknown {
  const [first] = parseFile(file);
  return first;
}

function parseFile(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return doc.toJS() as KubeObject;
  });
}

/** The object of `kind` named `name`; throws naming what there is. */
export function find(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const hit = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hit === undefined)
    throw new Error(
      `no ${kind}${name === undefined ? "" : ` ${name}`} in the manifests (have: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")})`,
    );
  return hit;
}

/** A mount of the pod's one container. */
export type PodMount =
  | { readonly kind: "hostPath"; readonly path: string; readonly hostPath: string; readonly readOnly: boolean }
  | { readonly kind: "configMap"; readonly path: string; readonly files: Readonly<Record<string, string>>; readonly readOnly: boolean }
  | { readonly kind: "emptyDir"; readonly path: string; readonly memory: boolean; readonly sizeBytes: number | undefined; readonly readOnly: boolean };

/** What a runtime is told to run for the DaemonSet's pod on one node. */
export interface PodSettings {
  readonly image: string;
  /** The container's `args` (its `command` is the image's entrypoint). */
  readonly args: readonly string[];
  readonly hostPid: boolean;
  readonly privileged: boolean;
  readonly noNewPrivileges: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly capabilities: { readonly drop: readonly string[]; readonly add: readonly string[] };
  /** `RuntimeDefault` or `Unconfined` (what the kubelet passes when the pod names none). */
  readonly seccomp: "RuntimeDefault" | "Unconfined";
  readonly mounts: readonly PodMount[];
  /** The limits, in bytes and in CPUs; the CPU request in millicores. */
  readonly resources: { readonly memoryLimitBytes: number; readonly cpuLimit: number; readonly cpuRequestMillis: number };
  readonly ports: readonly { readonly containerPort: number; readonly protocol: string }[];
  /** The pod template's annotations (the Prometheus scrape ones). */
  readonly annotations: Readonly<Record<string, string>>;
}

type Json = Record<string, unknown>;

/** Throws when `value` has a key outside `known`: a field the derivation would silently drop. */
function onlyKnown(where: string, value: unknown, known: readonly string[]): Json {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${where}: expected an object`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new Error(`${where}.${key}: not carried over to the test's run (test/deploy/manifests.ts knows ${known.join(", ")}); teach podSettings about it`);
  }
  return value as Json;
}

/** Kubernetes quantities: `512Mi`, `1G`, `128974848`. */
export function bytesOf(quantity: unknown, where: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (m === null) throw new Error(`${where}: ${String(quantity)} is not a memory quantity this test reads (like 512Mi)`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

/** CPU quantities in millicores: `50m`, `1`, `0.5`. */
export function millicoresOf(quantity: unknown, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity));
  if (m === null) throw new Error(`${where}: ${String(quantity)} is not a CPU quantity this test reads (like 50m or 1)`);
  return m[2] === "m" ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

/**
 * The settings of the pod `daemonset` makes, with its ConfigMap volumes
 * filled from `objects`.
 *
 * @throws Error naming the field, for anything it cannot carry over.
 */
export function podSettings(daemonset: KubeObject, objects: readonly KubeObject[]): PodSettings {
  const spec = onlyKnown("spec", daemonset["spec"], ["selector", "updateStrategy", "template"]);
  const template = onlyKnown("spec.template", spec["template"], ["metadata", "spec"]);
  const meta = onlyKnown("spec.template.metadata", template["metadata"], ["labels", "annotations"]);
  const pod = onlyKnown("spec.template.spec", template["spec"], [
    "serviceAccountName",
    "automountServiceAccountToken",
    "hostPID",
    "tolerations",
    "terminationGracePeriodSeconds",
    "securityContext",
    "containers",
    "volumes",
  ]);
  const podSecurity = onlyKnown("spec.template.spec.securityContext", pod["securityContext"], ["seccompProfile"]);
  const seccomp = onlyKnown("spec.template.spec.securityContext.seccompProfile", podSecurity["seccompProfile"], ["type"])["type"] ?? "Unconfined";
  if (seccomp !== "RuntimeDefault" && seccomp !== "Unconfined")
    throw new Error(`seccompProfile.type ${String(seccomp)}: this test runs RuntimeDefault or Unconfined only`);

  const containers = pod["containers"];
  if (!Array.isArray(containers) || containers.length !== 1) throw new Error("spec.template.spec.containers: the test runs exactly one container");
  const c = onlyKnown("containers[0]", containers[0], ["name", "image", "imagePullPolicy", "args", "securityContext", "resources", "ports", "volumeMounts"]);
  const security = onlyKnown("containers[0].securityContext", c["securityContext"], [
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "capabilities",
  ]);
  const caps = onlyKnown("containers[0].securityContext.capabilities", security["capabilities"], ["drop", "add"]);
  const resources = onlyKnown("containers[0].resources", c["resources"], ["requests", "limits"]);
  const limits = onlyKnown("containers[0].resources.limits", resources["limits"], ["cpu", "memory"]);
  const requests = onlyKnown("containers[0].resources.requests", resources["requests"], ["cpu", "memory"]);

  const volumes = new Map<string, Json>();
  for (const v of (pod["volumes"] as Json[] | undefined) ?? []) volumes.set(String(v["name"]), v);
  const mounts = ((c["volumeMounts"] as Json[] | undefined) ?? []).map((raw, i): PodMount => {
    const m = onlyKnown(`containers[0].volumeMounts[${i}]`, raw, ["name", "mountPath", "readOnly"]);
    const path = String(m["mountPath"]);
    const readOnly = m["readOnly"] === true;
    const volume = volumes.get(String(m["name"]));
    if (volume === undefined) throw new Error(`volumeMounts[${i}]: no volume named ${String(m["name"])}`);
    const where = `volumes[${String(m["name"])}]`;
    if (volume["hostPath"] !== undefined) {
      const hostPath = onlyKnown(`${where}.hostPath`, volume["hostPath"], ["path", "type"]);
      return { kind: "hostPath", path, hostPath: String(hostPath["path"]), readOnly };
    }
    if (volume["configMap"] !== undefined) {
      const name = String(onlyKnown(`${where}.configMap`, volume["configMap"], ["name"])["name"]);
      const data = find(objects, "ConfigMap", name)["data"] as Record<string, string>;
      return { kind: "configMap", path, files: data, readOnly };
    }
    if (volume["emptyDir"] !== undefined) {
      const empty = onlyKnown(`${where}.emptyDir`, volume["emptyDir"], ["medium", "sizeLimit"]);
      const size = empty["sizeLimit"] === undefined ? undefined : bytesOf(empty["sizeLimit"], `${where}.emptyDir.sizeLimit`);
      return { kind: "emptyDir", path, memory: empty["medium"] === "Memory", sizeBytes: size, readOnly };
    }
    throw new Error(`${where}: only hostPath, configMap and emptyDir volumes are carried over`);
  });

  return {
    image: String(c["image"]),
    args: ((c["args"] as unknown[] | undefined) ?? []).map(String),
    hostPid: pod["hostPID"] === true,
    privileged: security["privileged"] === true,
    // Kubernetes: allowPrivilegeEscalation unset means true (no no_new_privs).
    noNewPrivileges: security["allowPrivilegeEscalation"] === false,
    readOnlyRootFilesystem: security["readOnlyRootFilesystem"] === true,
    capabilities: { drop: ((caps["drop"] as unknown[] | undefined) ?? []).map(String), add: ((caps["add"] as unknown[] | undefined) ?? []).map(String) },
    seccomp,
    mounts,
    resources: {
      memoryLimitBytes: bytesOf(limits["memory"], "limits.memory"),
      cpuLimit: millicoresOf(limits["cpu"], "limits.cpu") / 1000,
      cpuRequestMillis: millicoresOf(requests["cpu"], "requests.cpu"),
    },
    ports: ((c["ports"] as Json[] | undefined) ?? []).map((p, i) => {
      const port = onlyKnown(`containers[0].ports[${i}]`, p, ["name", "containerPort", "protocol"]);
      return { containerPort: Number(port["containerPort"]), protocol: String(port["protocol"] ?? "TCP") };
    }),
    annotations: (meta["annotations"] as Record<string, string> | undefined) ?? {},
  };
}
