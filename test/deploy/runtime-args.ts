/**
 * The DaemonSet's pod ({@link PodSettings}, from manifests.ts) told to a
 * container runtime two ways:
 *
 * - {@link dockerRunArgs}: the `docker run` arguments that run the same
 *   container on a plain Docker host (Docker 23+: older ones reject
 *   CAP_BPF, CAP_PERFMON and CAP_CHECKPOINT_RESTORE as unknown). The test
 *   keeps them in expected-docker-run.json, so a manifest change shows up
 *   as a reviewed diff there; deploy/kubernetes/README.md quotes them.
 * - {@link criContainerConfig}: the CRI `CreateContainer` fields the kubelet
 *   sends for it (pkg/kubelet/kuberuntime: capabilities as written, the
 *   pod's PID namespace, no_new_privs from allowPrivilegeEscalation,
 *   CPU shares and quota from the request and limit), which the test sends
 *   to a real containerd to run the pod.
 *
 * Where the host side of a mount is depends on the caller ({@link MountSources}):
 * the node's own paths in the expectation, the test's private daemons and
 * temporary directories in the real run.
 */
import type { PodMount, PodSettings } from "./manifests.js";

/** Where the host side of each kind of mount is. */
export interface MountSources {
  /** The host directory or file to bind for a hostPath volume of `hostPath`. */
  hostPath(hostPath: string): string;
  /** A directory holding the ConfigMap volume's files. */
  configMap(mount: Extract<PodMount, { kind: "configMap" }>): string;
  /** A directory standing for the emptyDir (the kubelet makes one per pod). */
  emptyDir(mount: Extract<PodMount, { kind: "emptyDir" }>): string;
}

/** The kubelet's CPU shares for a request (pkg/kubelet/cm: milliCPUToShares, at least 2). */
export function cpuShares(millis: number): number {
  return Math.max(2, Math.floor((millis * 1024) / 1000));
}

/** CFS period the kubelet uses, in µs; the quota is the limit times it. */
export const CFS_PERIOD_US = 100_000;

function sourceOf(mount: PodMount, sources: MountSources): string {
  switch (mount.kind) {
    case "hostPath":
      return sources.hostPath(mount.hostPath);
    case "configMap":
      return sources.configMap(mount);
    case "emptyDir":
      return sources.emptyDir(mount);
  }
}

/**
 * `docker run` arguments (after `run`, before nothing: the image and its
 * args end the list) for the pod's container. A memory-backed emptyDir is a
 * `--tmpfs`; every other mount a bind mount, read-only where the manifest says.
 */
export function dockerRunArgs(pod: PodSettings, sources: MountSources): string[] {
  const args: string[] = [];
  if (pod.hostPid) args.push("--pid", "host");
  if (pod.privileged) args.push("--privileged");
  for (const cap of pod.capabilities.drop) args.push("--cap-drop", cap);
  for (const cap of pod.capabilities.add) args.push("--cap-add", cap);
  if (pod.noNewPrivileges) args.push("--security-opt", "no-new-privileges");
  // RuntimeDefault is Docker's own default profile: no option.
  if (pod.seccomp === "Unconfined") args.push("--security-opt", "seccomp=unconfined");
  if (pod.readOnlyRootFilesystem) args.push("--read-only");
  args.push(
    "--memory",
    String(pod.resources.memoryLimitBytes),
    "--cpus",
    String(pod.resources.cpuLimit),
    "--cpu-shares",
    String(cpuShares(pod.resources.cpuRequestMillis)),
  );
  for (const mount of pod.mounts) {
    if (mount.kind === "emptyDir" && mount.memory) {
      args.push("--tmpfs", `${mount.path}${mount.sizeBytes === undefined ? "" : `:size=${mount.sizeBytes}`}`);
      continue;
    }
    args.push("--mount", `type=bind,source=${sourceOf(mount, sources)},target=${mount.path}${mount.readOnly ? ",readonly" : ""}`);
  }
  for (const port of pod.ports) args.push("--publish", `${port.containerPort}:${port.containerPort}/${port.protocol.toLowerCase()}`);
  args.push(pod.image, ...pod.args);
  return args;
}

/** CRI's LinuxContainerConfig and mounts for the pod's container, as the kubelet fills them. */
export interface CriContainerFields {
  readonly image: string;
  readonly args: readonly string[];
  readonly mounts: readonly { readonly container_path: string; readonly host_path: string; readonly readonly: boolean }[];
  readonly linux: {
    readonly resources: { readonly cpu_period: number; readonly cpu_quota: number; readonly cpu_shares: number; readonly memory_limit_in_bytes: number };
    readonly security_context: {
      readonly capabilities: { readonly add_capabilities: readonly string[]; readonly drop_capabilities: readonly string[] };
      readonly privileged: boolean;
      readonly namespace_options: { readonly network: "NODE" | "POD"; readonly pid: "NODE" | "CONTAINER"; readonly ipc: "POD" };
      readonly readonly_rootfs: boolean;
      readonly no_new_privs: boolean;
      readonly seccomp: { readonly profile_type: "RuntimeDefault" | "Unconfined" };
    };
  };
}

/**
 * The CreateContainer fields for the pod's container. `network` is the
 * sandbox's network namespace: "NODE" in the tests (no CNI plugin here),
 * "POD" on a real node; nothing else differs.
 */
export function criContainerConfig(pod: PodSettings, sources: MountSources, network: "NODE" | "POD"): CriContainerFields {
  return {
    image: pod.image,
    args: pod.args,
    mounts: pod.mounts.map((m) => ({ container_path: m.path, host_path: sourceOf(m, sources), readonly: m.readOnly })),
    linux: {
      resources: {
        cpu_period: CFS_PERIOD_US,
        cpu_quota: Math.round(pod.resources.cpuLimit * CFS_PERIOD_US),
        cpu_shares: cpuShares(pod.resources.cpuRequestMillis),
        memory_limit_in_bytes: pod.resources.memoryLimitBytes,
      },
      security_context: {
        capabilities: { add_capabilities: pod.capabilities.add, drop_capabilities: pod.capabilities.drop },
        privileged: pod.privileged,
        namespace_options: { network, pid: pod.hostPid ? "NODE" : "CONTAINER", ipc: "POD" },
        readonly_rootfs: pod.readOnlyRootFilesystem,
        no_new_privs: pod.noNewPrivileges,
        seccomp: { profile_type: pod.seccomp },
      },
    },
  };
}
