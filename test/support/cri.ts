/**
 * containerd with its CRI plugin, and a CRI client, for tests that need
 * Kubernetes pods without Kubernetes (issue 14: `k8s/NS/SELECTOR` scopes;
 * the coming `--follow` over pods). crictl is not packaged in Debian, so the
 * tests talk CRI's real gRPC API themselves (@grpc/grpc-js, with the subset
 * of runtime.v1 in cri/api.proto).
 *
 * {@link startCriContainerd} starts a private containerd (Debian's, 1.6)
 * from a config it writes, with its own root, state and socket under a
 * temporary directory, so it sees nothing of the tests' other daemons, and
 * with CRI's `sandbox_image` set to a pause image it builds here: a tiny
 * static C program that waits for a signal, imported with
 * `ctr -n k8s.io image import` under that name (no registry is reached).
 * Pods use the host's network namespace (NamespaceOption network = NODE),
 * so no CNI plugin is needed.
 *
 * Each call starts its own daemon; `stop()` removes the pods it made, kills
 * that daemon by its pid and removes its directory.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The sandbox image name the config gives CRI (`sandbox_image`). */
export const PAUSE_IMAGE = "probec.test/pause:1";
/** The CRI plugin's containerd namespace. */
export const CRI_NAMESPACE = "k8s.io";

const PROTO = join(dirname(fileURLToPath(import.meta.url)), "cri", "api.proto");

/** A pod as RunPodSandbox takes it (CRI PodSandboxConfig, the fields the tests use). */
export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  /** The pod's labels, as the kubelet passes them (it adds io.kubernetes.pod.{name,namespace,uid}; so does {@link CriClient.runPod}). */
  readonly labels: Readonly<Record<string, string>>;
  /** Share the node's PID namespace (a `hostPID: true` pod); default: the pod's own. */
  readonly hostPid?: boolean;
  /** Where the runtime writes its containers' logs (the kubelet's /var/log/pods/<pod>); default none. */
  readonly logDirectory?: string;
}

/** A container as CreateContainer takes it. */
export interface ContainerSpec {
  readonly name: string;
  /** An image already imported into the `k8s.io` namespace. */
  readonly image: string;
  readonly command: readonly string[];
  readonly args?: readonly string[];
  /** Host directory → container path, read-write. */
  readonly mounts?: Readonly<Record<string, string>>;
  /** More mounts, as CRI's Mount messages (read-only ones). */
  readonly criMounts?: readonly { readonly container_path: string; readonly host_path: string; readonly readonly: boolean }[];
  /** CRI's LinuxContainerConfig (resources, security context), passed as given. */
  readonly linux?: unknown;
  /** The log file, relative to the pod's log directory (CRI writes the container's stdout and stderr there). */
  readonly logPath?: string;
}

type Call = (request: unknown, callback: (error: grpc.ServiceError | null, response: Record<string, unknown>) => void) => void;

/** A CRI RuntimeService client on one socket. */
export class CriClient {
  private readonly client: grpc.Client & Record<string, Call>;
  private readonly pods = new Map<string, { spec: PodSpec; config: unknown; uid: string }>();

  constructor(readonly socket: string) {
    const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
    const api = grpc.loadPackageDefinition(definition) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
    this.client = new api.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Call>;
  }

  private call<T>(method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method] as Call;
      fn.call(this.client, request, (error, response) => {
        if (error !== null) reject(new Error(`CRI ${method}: ${error.details || error.message}`));
        else resolve(response as T);
      });
    });
  }

  /** CRI Version: the runtime's name and version. */
  version(): Promise<{ runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call("Version", { version: "v1" });
  }

  /** RunPodSandbox on the host network; returns the sandbox id. */
  async runPod(spec: PodSpec): Promise<string> {
    const uid = `uid-${spec.namespace}-${spec.name}`;
    const config = {
      metadata: { name: spec.name, uid, namespace: spec.namespace, attempt: 0 },
      hostname: "",
      log_directory: spec.logDirectory ?? "",
      // What the kubelet gives a sandbox: the pod's labels plus these three (pkg/kubelet/kuberuntime labels.go).
      labels: { ...spec.labels, "io.kubernetes.pod.name": spec.name, "io.kubernetes.pod.namespace": spec.namespace, "io.kubernetes.pod.uid": uid },
      annotations: {},
      linux: { cgroup_parent: "", security_context: { namespace_options: { network: "NODE", pid: spec.hostPid === true ? "NODE" : "CONTAINER", ipc: "POD" } } },
    };
    const { pod_sandbox_id: id } = await this.call<{ pod_sandbox_id: string }>("RunPodSandbox", { config, runtime_handler: "" });
    this.pods.set(id, { spec, config, uid });
    return id;
  }

  /** CreateContainer then StartContainer in pod `podId`, labelled as the kubelet labels containers; returns the container id. */
  async runContainer(podId: string, spec: ContainerSpec): Promise<string> {
    const pod = this.pods.get(podId);
    if (pod === undefined) throw new Error(`no pod ${podId} made by this client`);
    const config = {
      metadata: { name: spec.name, attempt: 0 },
      image: { image: spec.image },
      command: [...spec.command],
      args: [...(spec.args ?? [])],
      working_dir: "",
      envs: [],
      mounts: [
        ...Object.entries(spec.mounts ?? {}).map(([host, container]) => ({ container_path: container, host_path: host, readonly: false })),
        ...(spec.criMounts ?? []),
      ],
      labels: {
        "io.kubernetes.container.name": spec.name,
        "io.kubernetes.pod.name": pod.spec.name,
        "io.kubernetes.pod.namespace": pod.spec.namespace,
        "io.kubernetes.pod.uid": pod.uid,
      },
      annotations: {},
      log_path: spec.logPath ?? "",
      ...(spec.linux === undefined ? {} : { linux: spec.linux }),
    };
    const { container_id: id } = await this.call<{ container_id: string }>("CreateContainer", { pod_sandbox_id: podId, config, sandbox_config: pod.config });
    await this.call("StartContainer", { container_id: id });
    return id;
  }

  /** StopContainer: the stop signal, then SIGKILL after `timeoutSeconds` (the kubelet's grace period). */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    await this.call("StopContainer", { container_id: containerId, timeout: timeoutSeconds });
  }

  /** StopPodSandbox then RemovePodSandbox (which removes its containers). */
  async removePod(podId: string): Promise<void> {
    await this.call("StopPodSandbox", { pod_sandbox_id: podId });
    await this.call("RemovePodSandbox", { pod_sandbox_id: podId });
    this.pods.delete(podId);
  }

  /** Removes every pod this client made that is still there. */
  async removeAll(): Promise<void> {
    for (const id of [...this.pods.keys()]) await this.removePod(id);
  }

  close(): void {
    this.client.close();
  }
}

/** A private containerd with CRI, and a client on it. */
export interface CriContainerd {
  readonly dir: string;
  readonly socket: string;
  readonly cri: CriClient;
  /** `ctr --address SOCKET ...args`, stdout trimmed. */
  ctr(args: readonly string[], input?: Buffer): string;
  /** containerd's output so far (for a failing test's message). */
  log(): string;
  /** Imports a `docker save` archive into the k8s.io namespace. */
  importImage(archive: Buffer): void;
  stop(): Promise<void>;
}

/**
 * Starts containerd with CRI under a new temporary directory, imports the
 * pause image, and waits until CRI answers Version.
 *
 * @param pauseArchive a `docker save` archive of an image named {@link PAUSE_IMAGE} ({@link buildPauseRootfs} makes its rootfs).
 */
export async function startCriContainerd(pauseArchive: Buffer, timeoutMs = 60_000): Promise<CriContainerd> {
  const dir = mkdtempSync(join(tmpdir(), "probec-cri-"));
  const socket = join(dir, "containerd.sock");
  const config = join(dir, "config.toml");
  for (const sub of ["root", "state", "cni/bin", "cni/conf"]) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(
    config,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${socket}.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      // Below the current process's oom_score_adj needs more than this machine grants (runc's child dies: "can't get final child's PID").
      "  restrict_oom_score_adj = true",
      '  [plugins."io.containerd.grpc.v1.cri".containerd]',
      '    snapshotter = "overlayfs"',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    bin_dir = "${dir}/cni/bin"`,
      `    conf_dir = "${dir}/cni/conf"`,
      "",
    ].join("\n"),
  );
  const log: string[] = [];
  const child: ChildProcess = spawn("containerd", ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (b: Buffer) => log.push(b.toString()));
  child.stderr?.on("data", (b: Buffer) => log.push(b.toString()));
  const ctr = (args: readonly string[], input?: Buffer): string =>
    execFileSync("ctr", ["--address", socket, ...args], {
      input,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 60_000,
      maxBuffer: 16 << 20,
    }).trim();
  const cri = new CriClient(socket);
  const stop = async (): Promise<void> => {
    try {
      await cri.removeAll();
    } finally {
      cri.close();
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited (${child.exitCode}) before it answered:\n${log.join("").slice(-4000)}`);
    if (existsSync(socket)) {
      try {
        await cri.version();
        break;
      } catch {
        // Not ready yet (the CRI plugin starts after the socket).
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd with CRI did not answer within ${timeoutMs} ms:\n${log.join("").slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const importImage = (archive: Buffer): void => void ctr(["-n", CRI_NAMESPACE, "images", "import", "-"], archive);
  importImage(pauseArchive);
  return { dir, socket, cri, ctr, importImage, stop, log: () => log.join("") };
}

/** A static pause program: waits for signals, exits 0 on SIGTERM or SIGINT (as Kubernetes' pause does). */
const PAUSE_C = `#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
static void done(int sig) { (void)sig; _exit(0); }
int main(void) {
  signal(SIGTERM, done);
  signal(SIGINT, done);
  for (;;) pause();
}
`;

/** Builds a rootfs holding only a static `/pause` under `dir`; returns `dir`. */
export function buildPauseRootfs(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "pause.c"), PAUSE_C);
  execFileSync("cc", ["-static", "-O2", "-o", join(dir, "pause"), join(dir, "pause.c")], { stdio: ["ignore", "pipe", "pipe"] });
  rmSync(join(dir, "pause.c"));
  return dir;
}
