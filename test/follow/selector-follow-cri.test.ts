/**
 * follow() over Kubernetes pods without Kubernetes (issue 14): a private
 * containerd with its CRI plugin (test/support/cri.ts), pods made through
 * CRI's real gRPC API as the kubelet makes them, their labels on their
 * sandboxes only. `k8s/shop/app=web/app` is followed: shop/web-1 running
 * before probec is attached at once, shop/web-2 created later is attached
 * from containerd's event stream, a deleted pod is detached, and shop/db-1
 * (app=db, same image) sees nothing. Each pod's container runs
 * test/follow/caller.ts, printing its own calls into a file the test
 * reads: each one's hits are compared with them exactly, and every event
 * names its pod.
 *
 * The scope also watches Docker (a k8s scope asks containerd and Docker),
 * here through a socket of the test's own in front of the test daemon:
 * when it goes away mid-run, that is a warning and the session goes on
 * with containerd (a pod created afterwards is still attached).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { follow, type FollowChange } from "../../src/follow/index.js";
import { buildPauseRootfs, CRI_NAMESPACE, type CriContainerd, PAUSE_IMAGE, startCriContainerd } from "../support/cri.js";
import { docker, ensureDockerd, importBinariesImage, TEST_DOCKER_HOST, TEST_DOCKER_SOCKET } from "../support/dockerd.js";
import { buildCaller, CALLER_BINARY, CALLER_IMAGE, until } from "./caller.js";

const APP_IMAGE = `probec.test/${CALLER_IMAGE}`;
let runtime: CriContainerd;
let dir: string;
/** The Docker socket the scope watches: a proxy of the test daemon's, which the test can take away. */
let proxyPath: string;
let proxy: Server;
const proxied = new Set<Socket>();

interface Pod {
  readonly name: string;
  readonly podId: string;
  readonly containerId: string;
  readonly pid: number;
  readonly calls: string;
}

beforeAll(async () => {
  await ensureDockerd();
  buildCaller();
  importBinariesImage(CALLER_IMAGE, [CALLER_BINARY]);
  dir = mkdtempSync(join(tmpdir(), "probec-fcri-"));
  // The pause image: a static /pause, imported into Docker only to be saved as an archive ctr imports.
  const pause = join(dir, "pause");
  docker(["import", "-c", 'ENTRYPOINT ["/pause"]', "-", PAUSE_IMAGE], execFileSync("tar", ["-C", buildPauseRootfs(pause), "-c", "."]));
  const save = (image: string) => execFileSync("docker", ["save", image], { env: { ...process.env, DOCKER_HOST: TEST_DOCKER_HOST }, maxBuffer: 256 << 20 });
  runtime = await startCriContainerd(save(PAUSE_IMAGE));
  docker(["tag", CALLER_IMAGE, APP_IMAGE]);
  runtime.importImage(save(APP_IMAGE));
  proxyPath = join(dir, "docker-proxy.sock");
  proxy = createServer((client) => {
    const upstream = createConnection(TEST_DOCKER_SOCKET);
    proxied.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise<void>((resolve) => proxy.listen(proxyPath, resolve));
}, 180_000);

afterAll(async () => {
  proxy?.close();
  for (const s of proxied) s.destroy();
  await runtime?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A pod `shop/NAME` labelled app=APP, running the caller as container "app"; waits until it is ready. */
async function makePod(name: string, app: string): Promise<Pod> {
  const out = mkdtempSync(join(dir, `${name}-`));
  const calls = join(out, "calls");
  const podId = await runtime.cri.runPod({ namespace: "shop", name, labels: { app } });
  const containerId = await runtime.cri.runContainer(podId, {
    name: "app",
    image: APP_IMAGE,
    command: [CALLER_BINARY],
    args: ["/out/calls"],
    mounts: { [out]: "/out" },
  });
  await until(
    `${name} ready`,
    () => printed(calls).ready,
    () => name,
  );
  return { name, podId, containerId, pid: taskPid(containerId), calls };
}

/** What the caller printed: ready, and its calls in order. */
function printed(path: string): { ready: boolean; calls: bigint[] } {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { ready: false, calls: [] };
  }
  const lines = text.split("\n");
  return {
    ready: lines.includes("ready"),
    calls: lines
      .map((l) => /^called work\((\d+)\)$/.exec(l)?.[1])
      .filter((n) => n !== undefined)
      .map(BigInt),
  };
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

describe("follow() over CRI pods", () => {
  it("k8s/shop/app=web/app: a pod running before and pods created later attached, a deleted pod detached; each one's calls exactly, none of app=db's", async () => {
    const web1 = await makePod("web-1", "web");
    const db1 = await makePod("db-1", "db");
    const changes: FollowChange[] = [];
    const following = await follow("uprobe k8s/shop/app=web/app:exe:work { n = arg0 }", {
      file: "pods.probe",
      containerd: { address: runtime.socket },
      docker: { host: `unix://${proxyPath}` },
      onChange: (c) => changes.push(c),
    });
    expect(following.runtimes).toEqual(["containerd", "docker"]);
    expect(changes).toEqual([{ type: "attached", scope: "k8s/shop/web-1/app", id: web1.containerId, points: 1, failed: 0 }]);
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const log = () => ({ changes, events: events.length });
    const poke = async (pod: Pod, count: number): Promise<void> => {
      process.kill(pod.pid, "SIGUSR1");
      await until(`${pod.name} printed ${count} calls`, () => printed(pod.calls).calls.length >= count, log);
    };

    // Created after probec started: attached from containerd's events, into the same entry as web-1 (one image, one binary).
    const web2 = await makePod("web-2", "web");
    await until("web-2 attached", () => changes.some((c) => c.type === "attached" && c.id === web2.containerId), log);
    expect(changes.at(-1)).toEqual({ type: "attached", scope: "k8s/shop/web-2/app", id: web2.containerId, points: 1, failed: 0 });
    expect(following.attached.get(web2.containerId)).toEqual(following.attached.get(web1.containerId));
    await poke(web1, 5);
    await poke(web2, 5);
    await poke(db1, 5);
    await until("10 hits", () => events.length >= 10, log);

    // web-1's pod deleted: detached; web-2 keeps the entry.
    await runtime.cri.removePod(web1.podId);
    await until("web-1 detached", () => changes.some((c) => c.type === "detached" && c.id === web1.containerId), log);
    expect(changes.find((c) => c.type === "detached")).toEqual({ type: "detached", scope: "k8s/shop/web-1/app", id: web1.containerId, reason: "exited" });
    expect([...following.attached.keys()]).toEqual([web2.containerId]);
    await poke(web2, 10);
    await until("15 hits", () => events.length >= 15, log);

    // Docker's socket goes away: a warning, and containerd is still followed.
    proxy.close();
    for (const s of proxied) s.destroy();
    await until("the warning", () => changes.some((c) => c.type === "warning"), log);
    expect(changes.find((c) => c.type === "warning")).toEqual({
      type: "warning",
      scope: "k8s/shop/app=web/app",
      message: expect.stringMatching(
        /^docker at .*docker-proxy\.sock: .*; containers already attached stay attached, new ones are not seen \(containerd still followed\)$/,
      ),
    });
    const web3 = await makePod("web-3", "web");
    await until("web-3 attached", () => changes.some((c) => c.type === "attached" && c.id === web3.containerId), log);
    await poke(web3, 5);
    await poke(db1, 10);
    await until("20 hits", () => events.length >= 20, log);
    await following.close();
    await reading;

    const byPod = (pod: Pod) => events.filter((e) => e.container === `shop/${pod.name}/app`);
    for (const pod of [web1, web2, web3]) {
      expect(byPod(pod).map((e) => e.fields.n)).toEqual(printed(pod.calls).calls);
      for (const e of byPod(pod)) {
        expect(e.pod).toEqual({ namespace: "shop", name: pod.name, container: "app" });
        expect(e.containerId).toBe(pod.containerId);
        expect(e.pid).toBe(pod.pid);
      }
    }
    expect(byPod(web1)).toHaveLength(5);
    expect(byPod(web2)).toHaveLength(10);
    expect(byPod(web3)).toHaveLength(5);
    expect(events).toHaveLength(20);
    expect(printed(db1.calls).calls).toHaveLength(10);
    expect(changes.filter((c) => c.type === "failed")).toEqual([]);
  }, 240_000);

  it("containerd/k8s.io/SELECTOR over the containers' own labels: a container created later is attached, named by its namespace and id", async () => {
    const changes: FollowChange[] = [];
    const following = await follow('uprobe containerd/k8s.io/"io.kubernetes.pod.name=web-9,io.kubernetes.container.name=app":exe:work { n = arg0 }', {
      containerd: { address: runtime.socket },
      onChange: (c) => changes.push(c),
    });
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const log = () => ({ changes, events: events.length });
    expect(changes.map((c) => c.type)).toEqual(["waiting"]);
    const web9 = await makePod("web-9", "web");
    await until("web-9 attached", () => changes.some((c) => c.type === "attached"), log);
    expect(changes.at(-1)).toEqual({
      type: "attached",
      scope: `containerd/k8s.io/${web9.containerId.slice(0, 12)}`,
      id: web9.containerId,
      points: 1,
      failed: 0,
    });
    process.kill(web9.pid, "SIGUSR1");
    await until("5 hits", () => events.length >= 5, log);
    await runtime.cri.removePod(web9.podId);
    await until("web-9 detached", () => changes.some((c) => c.type === "detached"), log);
    await following.close();
    await reading;
    expect(events.map((e) => e.fields.n)).toEqual(printed(web9.calls).calls);
    expect(events.map((e) => [e.containerId, e.pid])).toEqual(Array.from({ length: 5 }, () => [web9.containerId, web9.pid]));
  }, 120_000);

  it("an unknown namespace waits, naming the namespaces that have pods", async () => {
    const changes: FollowChange[] = [];
    const following = await follow("uprobe k8s/shopp/app=web/app:exe:work { n = arg0 }", {
      containerd: { address: runtime.socket },
      docker: { host: `unix://${dir}/no-docker.sock` },
      onChange: (c) => changes.push(c),
    });
    await following.close();
    expect(following.runtimes).toEqual(["containerd"]);
    expect(changes).toEqual([
      {
        type: "warning",
        scope: "k8s/shopp/app=web/app",
        message: `docker is not reachable (no socket at ${dir}/no-docker.sock): following containerd only`,
      },
      {
        type: "waiting",
        scope: "k8s/shopp/app=web/app",
        message:
          'k8s/shopp/app=web/app: no running pod is in namespace "shopp" on this node: waiting for one to start (did you mean shop?; namespaces with pods: shop)',
      },
    ]);
  }, 60_000);
});
