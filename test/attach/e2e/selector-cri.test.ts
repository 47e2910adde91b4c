/**
 * Issue 14, `k8s/NAMESPACE/SELECTOR/CONTAINER` on real pods: a private
 * containerd with its CRI plugin (test/support/cri.ts), pods made through
 * CRI's gRPC API like the kubelet makes them (RunPodSandbox with the pod's
 * labels, CreateContainer, StartContainer; host network, no CNI), the pause
 * image built here. Pods shop/web-1 and shop/web-2 (app=web) and shop/db-1
 * (app=db) each run zoo_app as container "app"; their pod labels live only
 * on their sandboxes, as the kubelet stores them. `k8s/shop/app=web/app`
 * picks the two web pods' containers, and a real attach counts each one's
 * calls exactly (zoo_app reports its calls), none of db-1's. Bad input: a
 * malformed selector and an unknown namespace are one line each, exit 2.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { selectContainers } from "../../../src/discovery/select.js";
import { parseTargetSpec, type SelectorScope } from "../../../src/dsl/target-spec.js";
import { probec } from "../../support/cli.js";
import { buildPauseRootfs, CRI_NAMESPACE, type CriContainerd, PAUSE_IMAGE, startCriContainerd } from "../../support/cri.js";
import { docker } from "../../support/dockerd.js";
import { JsonPrinter } from "../../../src/cli/event-output.js";
import { e2eSetup } from "./support/setup.js";
import { StatusFile, Targets } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const APP_IMAGE = "probec.test/zoo:1";
const CALLS = 5;
const targets = new Targets();
let runtime: CriContainerd;
let options: { containerd: { address: string }; docker: { host: string } };

interface Pod {
  readonly name: string;
  readonly containerId: string;
  readonly pid: number;
  readonly status: StatusFile;
}
const pods = new Map<string, Pod>();

function selectorScope(text: string): SelectorScope {
  const scope = parseTargetSpec(text).scope;
  if (scope.kind !== "select") throw new Error(`${text} is not a selector scope`);
  return scope;
}

/** SIGUSR1 to the pod's zoo_app, then its round line; returns the calls it reports. */
async function round(pod: Pod): Promise<number> {
  const from = pod.status.lines().length;
  process.kill(pod.pid, "SIGUSR1");
  const m = await pod.status.waitFor(/^round \d+ calls (\d+)/, `a round of ${pod.name}`, from);
  return Number(m[1]);
}

/** The pid of a CRI container's task (`ctr tasks ls`: TASK PID STATUS). */
function taskPid(id: string): number {
  const line = runtime
    .ctr(["-n", CRI_NAMESPACE, "tasks", "ls"])
    .split("\n")
    .find((l) => l.startsWith(id));
  if (line === undefined) throw new Error(`no task ${id}`);
  return Number(line.split(/\s+/)[1]);
}

beforeAll(async () => {
  const env = await e2eSetup();
  // The pause image: a static /pause, imported into Docker only to be saved as an archive ctr imports.
  const dir = mkdtempSync(join(tmpdir(), "probec-pause-"));
  try {
    const tar = execFileSync("tar", ["-C", buildPauseRootfs(dir), "-c", "."]);
    docker(["import", "-c", 'ENTRYPOINT ["/pause"]', "-", PAUSE_IMAGE], tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  runtime = await startCriContainerd(execFileSync("docker", ["save", PAUSE_IMAGE], { env: { ...process.env, DOCKER_HOST: env.host }, maxBuffer: 64 << 20 }));
  docker(["tag", env.image, APP_IMAGE]);
  runtime.importImage(execFileSync("docker", ["save", APP_IMAGE], { env: { ...process.env, DOCKER_HOST: env.host }, maxBuffer: 256 << 20 }));
  // No Docker in these scopes: only this containerd is asked (a socket that does not exist is skipped).
  options = { containerd: { address: runtime.socket }, docker: { host: `unix://${runtime.dir}/no-docker.sock` } };
  for (const [name, app] of [
    ["web-1", "web"],
    ["web-2", "web"],
    ["db-1", "db"],
  ] as const) {
    const out = targets.statusDir();
    const podId = await runtime.cri.runPod({ namespace: "shop", name, labels: { app, tier: app === "web" ? "api" : "db" } });
    const containerId = await runtime.cri.runContainer(podId, {
      name: "app",
      image: APP_IMAGE,
      command: ["/app/zoo_app"],
      args: ["/out/status", String(CALLS)],
      mounts: { [out]: "/out" },
    });
    const status = new StatusFile(join(out, "status"));
    await status.waitFor(/^ready$/, `zoo_app in pod ${name}`);
    pods.set(name, { name, containerId, pid: taskPid(containerId), status });
  }
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  await targets.cleanup();
});

test("CRI made the pods: the app containers carry only io.kubernetes.* labels, the sandboxes the pod labels", async () => {
  expect((await runtime.cri.version()).runtime_name).toBe("containerd");
  const web1 = pods.get("web-1")!;
  const info = JSON.parse(runtime.ctr(["-n", CRI_NAMESPACE, "containers", "info", web1.containerId])) as { Labels: Record<string, string> };
  expect(info.Labels["app"]).toBeUndefined();
  expect(info.Labels["io.kubernetes.pod.name"]).toBe("web-1");
  expect(info.Labels["io.cri-containerd.kind"]).toBe("container");
});

test("k8s/shop/app=web/app picks the web pods' app containers, with their pod labels", async () => {
  const picked = await selectContainers(selectorScope("k8s/shop/app=web/app"), options);
  expect(picked.map((c) => [c.runtime, c.runtimeNamespace, c.id, c.pod?.namespace, c.pod?.name, c.pod?.container, c.pod?.labels["app"]])).toEqual([
    ["containerd", CRI_NAMESPACE, pods.get("web-1")!.containerId, "shop", "web-1", "app", "web"],
    ["containerd", CRI_NAMESPACE, pods.get("web-2")!.containerId, "shop", "web-2", "app", "web"],
  ]);
  const names = async (text: string) => (await selectContainers(selectorScope(text), options)).map((c) => c.pod?.name);
  expect(await names('k8s/shop/"tier in (db,cache)"')).toEqual(["db-1"]);
  expect(await names("k8s/*/app!=web/app")).toEqual(["db-1"]);
  expect(await names('k8s/*/"app,tier notin (db)"')).toEqual(["web-1", "web-2"]);
  const scope = await resolveScope(selectorScope("k8s/shop/app=web/app"), options);
  expect(scope.containers?.map((c) => c.processes.map((p) => p.pid))).toEqual([[pods.get("web-1")!.pid], [pods.get("web-2")!.pid]]);
});

test("k8s/shop/app=web/app:libzoo:zoo_set2 counts each web pod's calls exactly, none of db-1's", async () => {
  const plan = await compilePlan("cri-selector", "uretprobe k8s/shop/app=web/app:libzoo:zoo_set2 {\n  rc = retval as i32\n}\n", options);
  // One entry: both pods run the image's one libzoo.so.
  expect(plan.probes).toHaveLength(1);
  const entry = plan.probes[0]!;
  expect([entry.target.runtime, entry.target.containerName, entry.filter?.containerId, entry.filter?.pids]).toEqual([
    "containerd",
    "shop/web-1/app",
    pods.get("web-1")!.containerId,
    [pods.get("web-1")!.pid, pods.get("web-2")!.pid].sort((a, b) => a - b),
  ]);
  expect(entry.filter?.mntNs).toHaveLength(1);
  const trace = await Trace.start(plan);
  const expected = { "shop/web-1/app": 0, "shop/web-2/app": 0 };
  try {
    expect(await trace.attachment.ready).toMatchObject({ attached: 1, failed: 0 });
    await round(pods.get("db-1")!);
    expected["shop/web-1/app"] += await round(pods.get("web-1")!);
    expected["shop/web-2/app"] += await round(pods.get("web-2")!);
    expected["shop/web-1/app"] += await round(pods.get("web-1")!);
    await round(pods.get("db-1")!);
    await trace.waitForEvents("probe1", expected["shop/web-1/app"] + expected["shop/web-2/app"], { settleMs: 500 });
  } finally {
    await trace.close();
  }
  expect(expected).toEqual({ "shop/web-1/app": 2 * CALLS, "shop/web-2/app": CALLS });
  const counts: Record<string, number> = {};
  for (const e of trace.of("probe1")) counts[String(e.container)] = (counts[String(e.container)] ?? 0) + 1;
  expect(counts).toEqual(expected);
  expect(trace.of("probe1").filter((e) => e.pid === pods.get("db-1")!.pid)).toEqual([]);
  for (const e of trace.of("probe1")) {
    const pod = e.container === "shop/web-1/app" ? pods.get("web-1")! : pods.get("web-2")!;
    expect(e.pod).toEqual({ namespace: "shop", name: pod.name, container: "app" });
    expect(e.containerId).toBe(pod.containerId);
  }
  const first = trace.of("probe1")[0]!;
  expect(JSON.parse(new JsonPrinter().print(first))).toMatchObject({
    container: first.container,
    containerId: first.containerId,
    namespace: "shop",
    pod: first.pod?.name,
  });
  expect(entry.target.pod).toEqual({ namespace: "shop", name: "web-1", container: "app" });
  expect(entry.target.containers?.map((c) => [c.containerName, c.containerId, c.pod])).toEqual([
    ["shop/web-1/app", pods.get("web-1")!.containerId, { namespace: "shop", name: "web-1", container: "app" }],
    ["shop/web-2/app", pods.get("web-2")!.containerId, { namespace: "shop", name: "web-2", container: "app" }],
  ]);
});

test("an unknown namespace names the namespaces that have pods", async () => {
  const error = await selectContainers(selectorScope("k8s/shopp/app=web"), options).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  expect((error as NotFoundError).message).toBe('k8s/shopp/app=web: no running pod is in namespace "shopp" on this node');
  expect((error as NotFoundError).hints).toEqual(["did you mean shop?", "namespaces with pods: shop"]);
  const none = await selectContainers(selectorScope("k8s/shop/app=cache"), options).catch((e: unknown) => e);
  expect((none as NotFoundError).message).toBe('k8s/shop/app=cache: no running pod in namespace "shop" matches "app=cache"');
  expect((none as NotFoundError).hints[0]).toMatch(/^pods: shop\/db-1 \(app=db,tier=db; containers: app\); shop\/web-1 \(app=web,tier=api/);
});

test("probec resolve: an unknown namespace and malformed selectors are one line each, exit 2", async () => {
  const env = { CONTAINERD_ADDRESS: runtime.socket, DOCKER_HOST: options.docker.host };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    for (const [scope, message] of [
      ["k8s/shopp/app=web", /^probec: k8s\/shopp\/app=web: no running pod is in namespace "shopp" on this node$/m],
      ["k8s/shop/app=web,", /^probec: label selector "app=web,", column 9: a ',' must be followed by a requirement$/m],
      ['k8s/shop/"tier in (api"', /^probec: label selector "tier in \(api", column 13: expected "," or "\)" in the value set, found the end$/m],
      ['docker/"Bad_Prefix.com/x=y"', /^probec: label selector "Bad_Prefix.com\/x=y", column 1: "Bad_Prefix.com\/x" is not a valid label key/m],
    ] as const) {
      const out = await probec("resolve", scope);
      expect(out.code, `${scope}: ${out.stderr}`).toBe(2);
      expect(out.stderr).toMatch(message);
      expect(out.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
