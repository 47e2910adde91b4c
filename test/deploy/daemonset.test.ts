/**
 * deploy/kubernetes/ run for real (issue 14, "The DaemonSet's pod run for
 * real"): the image `npm run image` builds, started with exactly the pod
 * settings derived from the DaemonSet (manifests.ts → runtime-args.ts),
 * following pods that the ConfigMap's probe file selects, on this kernel.
 *
 * Where it runs: the pod is created through CRI on a private containerd
 * (test/support/cri.ts), as the kubelet creates it: hostPID, the
 * capabilities as written (drop ALL, add the measured few), not privileged,
 * no_new_privs, a read-only root, RuntimeDefault seccomp, the CPU and memory
 * limits, the same mounts read-only (containerd's socket, tracefs, CRI-O's
 * directories, the ConfigMap). The tests' Docker daemon is Debian's 20.10,
 * which refuses CAP_BPF, CAP_PERFMON and CAP_CHECKPOINT_RESTORE as unknown
 * (Docker learnt them in 23), so it cannot run these settings; it loads the
 * image and runs it plainly, and the `docker run` form of the settings is
 * kept in expected-docker-run.json for Docker 23+ hosts and for review.
 *
 * The events are read where `kubectl logs` reads them: the container's CRI
 * log file. Pods labelled probec.io/trace (web-1 before probec starts, web-2
 * after: --follow) have their getaddrinfo calls printed and counted exactly;
 * db-1, unlabelled, has none.
 */
import { execFile, execFileSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPauseRootfs, CRI_NAMESPACE, type CriContainerd, PAUSE_IMAGE, startCriContainerd } from "../support/cri.js";
import { docker, ensureDockerd } from "../support/dockerd.js";
import { type Family, parsePrometheusText, sampleValue } from "../metrics/prom-text.js";
import { jsonLines, readCriLog, waitUntil } from "./cri-log.js";
import { find, loadKustomization, type PodSettings, podSettings } from "./manifests.js";
import { CALLS_PER_ROUND, buildResolverImage } from "./resolver.js";
import { CFS_PERIOD_US, cpuShares, criContainerConfig, type MountSources } from "./runtime-args.js";

const repo = new URL("../..", import.meta.url).pathname;
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

let work: string;
let runtime: CriContainerd | undefined;
let settings: PodSettings;
let archive: string;
let dockerHost: string;

/** A pod running the resolver, and where its own log is. */
interface TracedPod {
  readonly name: string;
  readonly containerId: string;
  readonly pid: number;
  readonly log: string;
}
const pods = new Map<string, TracedPod>();
let probecLog: string;
let probecContainer: string;

/** The pid of a CRI container's task (`ctr tasks ls`: TASK PID STATUS). */
function taskPid(id: string): number {
  const line = runtime!
    .ctr(["-n", CRI_NAMESPACE, "tasks", "ls"])
    .split("\n")
    .find((l) => l.startsWith(id));
  if (line === undefined) throw new Error(`no task ${id}`);
  return Number(line.split(/\s+/)[1]);
}

/** The resolver's own count of its calls so far (its last "getaddrinfo 127.0.0.1 N" line). */
function callsMade(pod: TracedPod): number {
  const last = readCriLog(pod.log)
    .map((l) => /^getaddrinfo 127\.0\.0\.1 (\d+)$/.exec(l.text))
    .filter((m) => m !== null)
    .at(-1);
  return last === undefined ? 0 : Number(last[1]);
}

/** SIGUSR1 to the pod's resolver; waits until it says it made the round's calls. */
async function round(pod: TracedPod): Promise<void> {
  const before = callsMade(pod);
  process.kill(pod.pid, "SIGUSR1");
  await waitUntil(
    () => (callsMade(pod) === before + CALLS_PER_ROUND ? true : undefined),
    `${pod.name}'s round of ${CALLS_PER_ROUND} calls`,
    () => readFileSync(pod.log, "utf8"),
  );
}

async function startResolverPod(name: string, labels: Record<string, string>, linux?: unknown): Promise<TracedPod> {
  const logDirectory = join(work, "pods", name);
  mkdirSync(logDirectory, { recursive: true });
  const podId = await runtime!.cri.runPod({ namespace: "shop", name, labels, logDirectory });
  const containerId = await runtime!.cri.runContainer(podId, { name: "app", image: RESOLVER_REF, command: [], logPath: "app.log", linux });
  const pod = { name, containerId, pid: taskPid(containerId), log: join(logDirectory, "app.log") };
  await waitUntil(
    () => (readCriLog(pod.log).some((l) => l.text === "ready") ? true : undefined),
    `the resolver in ${name}`,
    () => "",
  );
  pods.set(name, pod);
  return pod;
}

/** probec's stdout lines that are events of `probe`, per container name. */
function eventsPerContainer(probe: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of jsonLines(probecLog))
    if (e["probe"] === probe && e["aggregate"] === undefined) counts[String(e["container"])] = (counts[String(e["container"])] ?? 0) + 1;
  return counts;
}

function probecOutput(): string {
  return readCriLog(probecLog)
    .map((l) => `${l.stream}: ${l.text}`)
    .join("\n");
}

/** Waits until probec's stdout says it attached container `id`. */
async function attached(id: string): Promise<void> {
  await waitUntil(
    () => (jsonLines(probecLog).some((e) => e["container"] === "attached" && e["id"] === id) ? true : undefined),
    `probec to attach ${id.slice(0, 12)}`,
    probecOutput,
  );
}

/**
 * Creates the DaemonSet's pod as the kubelet would, from `pod` (the derived
 * settings, or a variant of them), in a sandbox of its own; returns its
 * container id and CRI log file.
 */
async function startProbecPod(name: string, pod: PodSettings): Promise<{ containerId: string; log: string }> {
  // The pod's network is the node's here only because no CNI plugin is installed.
  const config = criContainerConfig(pod, sources, "NODE");
  const logDirectory = join(work, "pods", name);
  mkdirSync(logDirectory, { recursive: true });
  const podId = await runtime!.cri.runPod({ namespace: "probec", name, labels: { app: "probec" }, hostPid: pod.hostPid, logDirectory });
  const containerId = await runtime!.cri.runContainer(podId, {
    name: "probec",
    image: config.image,
    command: [],
    args: config.args,
    criMounts: config.mounts,
    linux: config.linux,
    logPath: "probec.log",
  });
  return { containerId, log: join(logDirectory, "probec.log") };
}

/** GET /metrics on the port the pod's annotations name, parsed. */
async function scrapeMetrics(): Promise<Map<string, Family>> {
  const response = await fetch(`http://127.0.0.1:${settings.annotations["prometheus.io/port"]}${settings.annotations["prometheus.io/path"]}`);
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

let RESOLVER_REF: string;
let dockerLoadOutput: string;
let sources: MountSources;
const execFileAsync = promisify(execFile);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "probec-daemonset-"));
  const objects = loadKustomization();
  settings = podSettings(find(objects, "DaemonSet", "probec"), objects);

  // The image, as `npm run image` makes it (rebuilt only when an input changed).
  archive = execFileSync("node", [join(repo, "scripts/build-image.mjs")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  dockerHost = await ensureDockerd();

  // The pods' images: the pause image and the resolver, through Docker into containerd's k8s.io namespace.
  try {
    docker(["image", "inspect", "--format", "{{.Id}}", PAUSE_IMAGE]); // made by an earlier run (or the selector tests): the same program
  } catch {
    const pauseDir = mkdtempSync(join(work, "pause-"));
    docker(["import", "-c", 'ENTRYPOINT ["/pause"]', "-", PAUSE_IMAGE], execFileSync("tar", ["-C", buildPauseRootfs(pauseDir), "-c", "."]));
  }
  const save = (image: string): Buffer => execFileSync("docker", ["save", image], { env: { ...process.env, DOCKER_HOST: dockerHost }, maxBuffer: 256 << 20 });
  runtime = await startCriContainerd(save(PAUSE_IMAGE));
  RESOLVER_REF = buildResolverImage();
  runtime.importImage(save(RESOLVER_REF));
  // probec's own image, loaded from the OCI archive both ways at once (each unpacks ~240 MB): into the
  // tests' Docker, and into containerd's k8s.io namespace as `ctr -n k8s.io image import` does on a node.
  // The previous build's image goes first, so that reloading does not leave an untagged copy (~240 MB) behind each rebuild.
  try {
    docker(["image", "rm", `probec:${version}`]);
  } catch (error) {
    if (!/No such image/i.test(String((error as { stderr?: unknown }).stderr ?? ""))) throw error;
  }
  const loads = Promise.all([
    execFileAsync("docker", ["load", "-i", archive], { env: { ...process.env, DOCKER_HOST: dockerHost } }),
    execFileAsync("ctr", ["--address", runtime.socket, "-n", CRI_NAMESPACE, "images", "import", archive]),
  ]);

  await startResolverPod("web-1", { app: "web", "probec.io/trace": "dns" });
  await startResolverPod("db-1", { app: "db" });
  // Another user's process: reading its /proc entries takes CAP_SYS_PTRACE (probec runs as root, the pod as uid 1000).
  await startResolverPod("user-1", { app: "user" }, { security_context: { run_as_user: { value: 1000 } } });
  dockerLoadOutput = (await loads)[0].stdout;

  // Every hostPath of the DaemonSet, as this machine has it: containerd's socket is the private one's
  // (hard-linked, so the mount holds nothing else of it); this machine runs no CRI-O (empty directories).
  const hostPaths: Record<string, string> = { "/sys/kernel/tracing": "/sys/kernel/tracing" };
  hostPaths["/run/containerd"] = join(work, "run-containerd");
  mkdirSync(hostPaths["/run/containerd"]!);
  linkSync(runtime.socket, join(hostPaths["/run/containerd"]!, "containerd.sock"));
  for (const crio of ["/var/run/crio", "/var/lib/containers/storage", "/run/containers/storage"]) {
    hostPaths[crio] = join(work, `no-crio${crio.replaceAll("/", "-")}`);
    mkdirSync(hostPaths[crio]!);
  }
  sources = {
    hostPath: (path) => {
      const source = hostPaths[path];
      if (source === undefined) throw new Error(`the DaemonSet mounts hostPath ${path}, which this test does not provide; add it to hostPaths`);
      return source;
    },
    configMap: (mount) => {
      const dir = join(work, `configmap${mount.path.replaceAll("/", "-")}`);
      mkdirSync(dir, { recursive: true });
      for (const [file, text] of Object.entries(mount.files)) writeFileSync(join(dir, file), text);
      return dir;
    },
    // One per pod, as the kubelet makes them.
    emptyDir: (mount) => mkdtempSync(join(work, `emptydir${mount.path.replaceAll("/", "-")}-`)),
  };
  ({ containerId: probecContainer, log: probecLog } = await startProbecPod("probec-node1", settings));
  await attached(pods.get("web-1")!.containerId);
}, 240_000);

afterAll(async () => {
  await runtime?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the image", () => {
  it("docker load takes the archive: probec:VERSION, whose entrypoint is node running the bundled CLI", () => {
    expect(dockerLoadOutput).toMatch(new RegExp(`^Loaded image: probec:${version.replaceAll(".", "\\.")}$`, "m"));
    expect(JSON.parse(docker(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", `probec:${version}`]))).toEqual([
      "/usr/local/bin/node",
      "/usr/local/lib/node_modules/probec/dist/cli/probec.cjs",
    ]);
    expect(docker(["run", "--rm", "--network", "none", `probec:${version}`, "--version"])).toBe(version);
  });

  it("holds node, the package, its attacher for this machine, ctr and env, and no shell, npm or compiler", () => {
    // The layer's own listing (a running container would add the runtime's /proc, /dev, /etc/hosts …).
    const [manifest] = JSON.parse(execFileSync("tar", ["-xOf", archive, "manifest.json"], { encoding: "utf8" })) as [{ Layers: [string] }];
    const layer = execFileSync("tar", ["-xOf", archive, manifest.Layers[0]], { maxBuffer: 512 << 20 });
    const names = execFileSync("tar", ["-tz"], { input: layer, encoding: "utf8", maxBuffer: 64 << 20 })
      .trim()
      .split("\n");
    const children = (dir: string) => [...new Set(names.filter((n) => n.startsWith(dir) && n !== dir).map((n) => n.slice(dir.length).split("/")[0]))].sort();
    expect(children("")).toEqual(["lib", "lib64", "tmp", "usr"]);
    expect(children("usr/")).toEqual(["bin", "local"]);
    expect(children("usr/bin/")).toEqual(["ctr", "env"]);
    expect(children("usr/local/bin/")).toEqual(["node", "probec"]);
    expect(children("usr/local/lib/node_modules/")).toEqual(["probec"]);
    expect(children("usr/local/lib/node_modules/probec/prebuilds/")).toEqual([`linux-${process.arch}`]);
    expect(names.filter((n) => /(^|\/)(sh|bash|npm|npx|gcc|cc|clang|ld|apt|dpkg)$/.test(n))).toEqual([]);
    // The bin link works too (env runs node), for `kubectl exec … -- probec list …`.
    expect(docker(["run", "--rm", "--network", "none", "--entrypoint", "/usr/local/bin/probec", `probec:${version}`, "--version"])).toBe(version);
  });

  it("ctr import took it under the name the DaemonSet runs", () => {
    expect(settings.image).toBe(`probec:${version}`);
    expect(runtime!.ctr(["-n", CRI_NAMESPACE, "images", "ls", "-q"]).split("\n")).toContain(`docker.io/library/probec:${version}`);
  });
});

describe("the DaemonSet's pod, on pods made through CRI", () => {
  it("runs with the manifest's settings: host pid namespace, exactly the listed capabilities, no_new_privs, seccomp, read-only root", () => {
    const pid = taskPid(probecContainer);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)$`, "m").exec(status)![1];
    // Capability numbers (linux/capability.h): DAC_READ_SEARCH 2, SYS_PTRACE 19, PERFMON 38, BPF 39, CHECKPOINT_RESTORE 40.
    const bits: Record<string, number> = { DAC_READ_SEARCH: 2, SYS_PTRACE: 19, PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40 };
    const mask = settings.capabilities.add.reduce((m, cap) => m | (1n << BigInt(bits[cap]!)), 0n);
    expect(BigInt(`0x${field("CapEff")}`)).toBe(mask);
    expect(BigInt(`0x${field("CapBnd")}`)).toBe(mask);
    expect(field("NoNewPrivs")).toBe("1");
    expect(field("Seccomp")).toBe("2"); // a filter: the runtime's default profile
    // Its pid namespace is the node's: it sees the resolver pods' processes under their host pids.
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).toBe(readlinkSync("/proc/self/ns/pid"));
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
    expect(mounts).toMatch(/^\S+ \S+ \S+ \S+ \/ ro,/m); // the root
    for (const path of ["/etc/probec", "/sys/kernel/tracing", "/run/containerd"])
      expect(mounts).toMatch(new RegExp(`^\\S+ \\S+ \\S+ \\S+ ${path} ro[,\\s]`, "m"));
  });

  it("runs under the manifest's limits: the memory limit, the CPU quota and shares in its cgroups", () => {
    const pid = taskPid(probecContainer);
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
    const v2 = cgroups.find((l) => l.startsWith("0::"));
    const read = (controller: string, file: string): string => {
      const line = cgroups.find((l) => l.split(":")[1]!.split(",").includes(controller));
      const dir = line === undefined ? join("/sys/fs/cgroup", v2!.slice(3)) : join("/sys/fs/cgroup", controller, line.split(":")[2]!);
      return readFileSync(join(dir, file), "utf8").trim();
    };
    const v1 = cgroups.some((l) => l.split(":")[1]!.split(",").includes("memory"));
    if (v1) {
      expect(Number(read("memory", "memory.limit_in_bytes"))).toBe(settings.resources.memoryLimitBytes);
      expect(Number(read("cpu", "cpu.cfs_quota_us"))).toBe(settings.resources.cpuLimit * CFS_PERIOD_US);
      expect(Number(read("cpu", "cpu.shares"))).toBe(cpuShares(settings.resources.cpuRequestMillis));
    } else {
      expect(Number(read("memory", "memory.max"))).toBe(settings.resources.memoryLimitBytes);
      expect(read("cpu", "cpu.max")).toBe(`${settings.resources.cpuLimit * CFS_PERIOD_US} ${CFS_PERIOD_US}`);
    }
  });

  it("prints each getaddrinfo call of the labelled pods, exactly, and none of the unlabelled one, following a pod made after it started", async () => {
    const web1 = pods.get("web-1")!;
    const db1 = pods.get("db-1")!;
    await round(web1);
    await round(db1);
    const web2 = await startResolverPod("web-2", { app: "web", "probec.io/trace": "dns" });
    await attached(web2.containerId);
    await round(web2);
    await round(web1);
    await round(db1);
    const expected = { "shop/web-1/app": callsMade(web1), "shop/web-2/app": callsMade(web2) };
    expect(expected).toEqual({ "shop/web-1/app": 2 * CALLS_PER_ROUND, "shop/web-2/app": CALLS_PER_ROUND });
    expect(callsMade(db1)).toBe(2 * CALLS_PER_ROUND);
    await waitUntil(
      () => (JSON.stringify(eventsPerContainer("probe1")) === JSON.stringify(expected) ? true : undefined),
      `probe1 events ${JSON.stringify(expected)}`,
      probecOutput,
    );
    // Nothing more arrives (no duplicate, nothing from db-1).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(eventsPerContainer("probe1")).toEqual(expected);
    const events = jsonLines(probecLog).filter((e) => e["probe"] === "probe1");
    for (const e of events) {
      expect(e["host"]).toBe("127.0.0.1");
      expect(e["namespace"]).toBe("shop");
      expect([web1.pid, web2.pid]).toContain(e["pid"]);
    }
  });

  it("serves the same counts on /metrics, where the annotations send Prometheus: hits per probe, counts per pod", async () => {
    // The test's pod shares the node's network (no CNI here), so the pod's port is the loopback's.
    const metrics = await scrapeMetrics();
    expect(sampleValue(metrics, "probec_hits_total", { probe: "probe1" })).toBe(3 * CALLS_PER_ROUND);
    expect(sampleValue(metrics, "probec_hits_total", { probe: "probe2" })).toBe(3 * CALLS_PER_ROUND);
    expect(sampleValue(metrics, "probec_lost_total", { probe: "probe1" })).toBe(0);
    expect(sampleValue(metrics, "probec_count_total", { probe: "probe2", namespace: "shop", pod: "web-1", container: "shop/web-1/app" })).toBe(
      2 * CALLS_PER_ROUND,
    );
    expect(sampleValue(metrics, "probec_count_total", { probe: "probe2", namespace: "shop", pod: "web-2", container: "shop/web-2/app" })).toBe(CALLS_PER_ROUND);
  });

  it("stopped as the kubelet stops it, prints the calls counted per container", async () => {
    await runtime!.cri.stopContainer(probecContainer, 10);
    const final = await waitUntil(() => jsonLines(probecLog).find((e) => e["probe"] === "probe2" && e["final"] === true), "probe2's final count", probecOutput);
    const rows = (final["rows"] as { keys: { container: string }; count: number }[]).map((r) => [r.keys.container, r.count]).sort();
    expect(rows).toEqual([
      ["shop/web-1/app", 2 * CALLS_PER_ROUND],
      ["shop/web-2/app", CALLS_PER_ROUND],
    ]);
    expect(readCriLog(probecLog).filter((l) => l.stream === "stderr" && /error|warning/i.test(l.text))).toEqual([]);
  });
});

describe("each capability the DaemonSet adds is needed (the measurement in deploy/kubernetes/README.md, kept)", () => {
  const TARGET = "k8s/shop/app=user/app:libc:getaddrinfo";
  /** The DaemonSet's settings with `args` instead, and without capability `without` when given. */
  const variant = (args: string[], without?: string): PodSettings => ({
    ...settings,
    args,
    capabilities: { ...settings.capabilities, add: settings.capabilities.add.filter((c) => c !== without) },
  });
  const trace = ["trace", `uprobe ${TARGET} { pid }`, "--count", String(CALLS_PER_ROUND), "--json"];

  it("with all of them, probec traces a process of another user (uid 1000) exactly", async () => {
    const user = pods.get("user-1")!;
    const { log } = await startProbecPod("probec-all-caps", variant(trace));
    await waitUntil(
      () => (readCriLog(log).some((l) => /attached 1 point/.test(l.text)) ? true : undefined),
      "probec to attach user-1",
      () => readFileSync(log, "utf8"),
    );
    await round(user);
    const events = await waitUntil(
      () => {
        const e = jsonLines(log).filter((l) => l["probe"] === "probe1");
        return e.length === CALLS_PER_ROUND ? e : undefined;
      },
      `${CALLS_PER_ROUND} events of user-1`,
      () => readFileSync(log, "utf8"),
    );
    expect(events.map((e) => e["pid"])).toEqual(Array(CALLS_PER_ROUND).fill(user.pid));
  });

  const failures: Record<string, RegExp> = {
    BPF: /^probec: probec-attach: the kernel refused to load a BPF program \(EPERM\)/,
    PERFMON: /^probec: probec-attach: the kernel refused to load a BPF program \(EPERM\)/,
    // The process is there but the kernel hides its namespaces from another user without CAP_SYS_PTRACE: said as such.
    SYS_PTRACE: /\/proc\/\d+\/ns\/\w+: permission denied/,
    DAC_READ_SEARCH: /\/proc\/\d+\/environ: permission denied/,
    CHECKPOINT_RESTORE: /\/proc\/\d+\/map_files\/[0-9a-f]+-[0-9a-f]+: permission denied/,
  };
  it("lists exactly the capabilities measured here", () => {
    expect([...settings.capabilities.add].sort()).toEqual(Object.keys(failures).sort());
  });
  for (const [cap, failure] of Object.entries(failures)) {
    it(`without ${cap} it fails, saying why`, async () => {
      const { log } = await startProbecPod(`probec-no-${cap.toLowerCase().replaceAll("_", "-")}`, variant(trace, cap));
      const line = await waitUntil(
        () => readCriLog(log).find((l) => l.stream === "stderr" && failure.test(l.text)),
        `probec without ${cap} to fail with ${failure}`,
        () => (readCriLog(log).length === 0 ? "(no output)" : readFileSync(log, "utf8")),
      );
      expect(line.text).toMatch(failure);
      expect(jsonLines(log).filter((e) => e["probe"] === "probe1")).toEqual([]);
    });
  }
});
