/**
 * follow() misses no container at start-up (issue 14): the running
 * containers are listed only once every event stream is live, so a
 * container that starts after the listing is seen by its stream. The test
 * starts one in exactly that window, through the session's `afterListing`
 * seam (after the listing, before its containers are attached): the
 * listing found nothing, so it can only come from its start event, and the
 * session must attach it, once, with every call it makes as a hit.
 *
 * On the test Docker daemon (test/support/dockerd.ts): a container started
 * in the window, seen by the live stream; one started while the daemon has
 * answered but not yet subscribed (a proxy stretches that moment,
 * test/follow/events-proxy.ts), which only the events replayed since the
 * request bring; and a container listed as running that restarts in the
 * window, whose exit and start (live, or replayed) are handled after the
 * listing's attachment, so that it ends attached to its new run. On a private containerd
 * with its CRI plugin (test/support/cri.ts): a pod created in the window,
 * seen through containerd's stream, whose liveness is probec's own sync
 * event; the k8s scope watches Docker too, so both kinds of stream are
 * waited for.
 *
 * Every container runs test/follow/caller.ts, which prints its own calls
 * of work(n): hits are compared with those exactly.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { follow, type FollowChange, type Following } from "../../src/follow/index.js";
import { buildPauseRootfs, CRI_NAMESPACE, type CriContainerd, PAUSE_IMAGE, startCriContainerd } from "../support/cri.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST, TEST_DOCKER_SOCKET } from "../support/dockerd.js";
import { buildCaller, CALLER_BINARY, CALLER_IMAGE, callsIn, until } from "./caller.js";
import { startEventsProxy } from "./events-proxy.js";

const FRESH = "probec-fstart-fresh";
const RESTARTED = "probec-fstart-restarted";
const REPLAYED = "probec-fstart-replayed";
const APP_IMAGE = `probec.test/${CALLER_IMAGE}`;
let dir: string;
let runtime: CriContainerd | undefined;

const labels = (app: string): string[] => ["--label", `app=${app}`, "--label", "probec.test=follow-startup"];
const selector = (app: string): string => `docker/"app=${app},probec.test=follow-startup"`;

beforeAll(async () => {
  await ensureDockerd();
  dir = mkdtempSync(join(tmpdir(), "probec-fstart-"));
  buildCaller();
  importBinariesImage(CALLER_IMAGE, [CALLER_BINARY]);
}, 120_000);

afterAll(async () => {
  removeContainers(FRESH, RESTARTED, REPLAYED);
  await runtime?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads a session's events in the background; `done()` ends it and returns them all. */
function collect(following: Following): { events: ProbeEvent[]; done: () => Promise<ProbeEvent[]> } {
  const events: ProbeEvent[] = [];
  const reading = (async () => {
    for await (const e of following) events.push(e);
  })();
  return {
    events,
    done: async () => {
      await following.close();
      await reading;
      return events;
    },
  };
}

describe("follow() start-up on Docker", () => {
  // A selector's listing asks for every container's labels; a named scope's, for the runtime's list: both must wait.
  for (const kind of ["selector", "named"] as const) {
    it(`a container started after the listing, before its stream could be trusted, is attached from its start event with every call (${kind} scope)`, async () => {
      removeContainers(FRESH);
      const scope = kind === "selector" ? selector("fresh") : `docker/${FRESH}`;
      const changes: FollowChange[] = [];
      let id = "";
      let listedBefore: FollowChange[] = [];
      const following = await follow(`uprobe ${scope}:exe:work { n = arg0 }`, {
        docker: { host: TEST_DOCKER_HOST },
        onChange: (c) => changes.push(c),
        afterListing: async () => {
          listedBefore = [...changes];
          id = runContainer(CALLER_IMAGE, FRESH, [CALLER_BINARY], labels("fresh"));
        },
      });
      const { events, done } = collect(following);
      const log = () => ({ changes, events: events.length });
      // Nothing had happened when it started: the listing found nothing, so the attachment is its start event's.
      expect(listedBefore).toEqual([]);
      expect(changes[0]).toMatchObject({ type: "waiting", scope });
      await until("attached", () => changes.some((c) => c.type === "attached"), log);
      docker(["kill", "-s", "USR1", FRESH]);
      await until("5 calls printed", () => callsIn(docker(["logs", FRESH])).length >= 5, log);
      await until("5 hits", () => events.length >= 5, log);
      await done();
      expect(changes.slice(1)).toEqual([{ type: "attached", scope: `docker/${FRESH}`, id, points: 1, failed: 0 }]);
      expect(events.map((e) => e.fields.n)).toEqual(callsIn(docker(["logs", FRESH])));
      expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n]);
      for (const e of events) expect([e.container, e.containerId]).toEqual([FRESH, id]);
      removeContainers(FRESH);
    }, 120_000);
  }

  it("the daemon answers before it subscribes: a container started in between, after the listing, comes from the events replayed since the request", async () => {
    removeContainers(REPLAYED);
    // dockerd's own order (200 first, then the subscription), held open by a proxy until the container has started.
    const proxy = await startEventsProxy(join(dir, "docker-early-answer.sock"), TEST_DOCKER_SOCKET);
    const changes: FollowChange[] = [];
    let id = "";
    let listedBefore: FollowChange[] | undefined;
    let heldThen: string[] = [];
    try {
      const following = await follow(`uprobe ${selector("replayed")}:exe:work { n = arg0 }`, {
        docker: { host: `unix://${proxy.socket}` },
        onChange: (c) => changes.push(c),
        afterListing: async () => {
          listedBefore = [...changes];
          heldThen = [...proxy.held];
          id = runContainer(CALLER_IMAGE, REPLAYED, [CALLER_BINARY], labels("replayed"));
          proxy.release();
        },
      });
      const { events, done } = collect(following);
      const log = () => ({ changes, events: events.length, held: proxy.held });
      // Listed while the daemon had not subscribed yet, and found nothing: only the replay can bring the container.
      expect(listedBefore).toEqual([]);
      expect(heldThen).toEqual([expect.stringMatching(/^GET \/events\?since=\d+\.\d{9}&filters=.* HTTP\/1\.1$/)]);
      await until("attached", () => changes.some((c) => c.type === "attached"), log);
      docker(["kill", "-s", "USR1", REPLAYED]);
      await until("5 calls printed", () => callsIn(docker(["logs", REPLAYED])).length >= 5, log);
      await until("5 hits", () => events.length >= 5, log);
      await done();
      expect(changes.map((c) => c.type)).toEqual(["waiting", "attached"]);
      expect(changes[1]).toEqual({ type: "attached", scope: `docker/${REPLAYED}`, id, points: 1, failed: 0 });
      expect(events.map((e) => e.fields.n)).toEqual(callsIn(docker(["logs", REPLAYED])));
      expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n]);
    } finally {
      await proxy.close();
      removeContainers(REPLAYED);
    }
  }, 120_000);

  // Its exit and start come through the live stream, or (the daemon not subscribed yet) replayed since the request: handled after the listing either way.
  for (const via of ["the stream", "the replay"] as const) {
    it(`a container listed as running that restarts before it is attached: its exit and start, from ${via}, come after the listing's attachment, and its new run is followed`, async () => {
      removeContainers(RESTARTED);
      const id = runContainer(CALLER_IMAGE, RESTARTED, [CALLER_BINARY], labels("restarted"));
      const firstPid = Number(docker(["inspect", "--format", "{{.State.Pid}}", RESTARTED]));
      const proxy = via === "the replay" ? await startEventsProxy(join(dir, "docker-restart.sock"), TEST_DOCKER_SOCKET) : undefined;
      const changes: FollowChange[] = [];
      try {
        const following = await follow(`uprobe ${selector("restarted")}:exe:work { n = arg0 }`, {
          docker: { host: proxy === undefined ? TEST_DOCKER_HOST : `unix://${proxy.socket}` },
          onChange: (c) => changes.push(c),
          afterListing: async () => {
            docker(["restart", "-t", "0", RESTARTED]);
            proxy?.release();
          },
        });
        const { events, done } = collect(following);
        const log = () => ({ changes, events: events.length });
        const secondPid = Number(docker(["inspect", "--format", "{{.State.Pid}}", RESTARTED]));
        expect(secondPid).not.toBe(firstPid);
        // Listed (attached to its new run, the old one being gone), then its exit and its start, in the order they came.
        await until("attached again", () => changes.filter((c) => c.type === "attached").length === 2, log);
        expect(changes).toEqual([
          { type: "attached", scope: `docker/${RESTARTED}`, id, points: 1, failed: 0 },
          { type: "detached", scope: `docker/${RESTARTED}`, id, reason: "exited" },
          { type: "attached", scope: `docker/${RESTARTED}`, id, points: 1, failed: 0 },
        ]);
        expect([...following.attached.keys()]).toEqual([id]);
        docker(["kill", "-s", "USR1", RESTARTED]);
        await until("5 calls printed", () => callsIn(docker(["logs", RESTARTED])).length >= 5, log);
        await until("5 hits", () => events.length >= 5, log);
        await done();
        // Its logs hold both runs; the first printed nothing but "ready".
        expect(events.map((e) => e.fields.n)).toEqual(callsIn(docker(["logs", RESTARTED])));
        expect(events.map((e) => [e.containerId, e.pid])).toEqual(Array.from({ length: 5 }, () => [id, secondPid]));
      } finally {
        await proxy?.close();
        removeContainers(RESTARTED);
      }
    }, 120_000);
  }
});

describe("follow() start-up on containerd's CRI plugin", () => {
  beforeAll(async () => {
    // The pause image: a static /pause, imported into Docker only to be saved as an archive ctr imports.
    docker(["import", "-c", 'ENTRYPOINT ["/pause"]', "-", PAUSE_IMAGE], execFileSync("tar", ["-C", buildPauseRootfs(join(dir, "pause")), "-c", "."]));
    const save = (image: string) => execFileSync("docker", ["save", image], { env: { ...process.env, DOCKER_HOST: TEST_DOCKER_HOST }, maxBuffer: 256 << 20 });
    runtime = await startCriContainerd(save(PAUSE_IMAGE));
    docker(["tag", CALLER_IMAGE, APP_IMAGE]);
    runtime.importImage(save(APP_IMAGE));
  }, 180_000);

  it("a pod created after the listing is attached from containerd's stream, live since probec's sync event came back, with every call", async () => {
    const cri = runtime as CriContainerd;
    const out = mkdtempSync(join(dir, "boot-web-"));
    const calls = join(out, "calls");
    const printed = (): string => {
      try {
        return readFileSync(calls, "utf8");
      } catch {
        return "";
      }
    };
    const changes: FollowChange[] = [];
    let listedBefore: FollowChange[] = [];
    let containerId = "";
    const following = await follow("uprobe k8s/boot/app=web/app:exe:work { n = arg0 }", {
      containerd: { address: cri.socket },
      docker: { host: TEST_DOCKER_HOST },
      onChange: (c) => changes.push(c),
      afterListing: async () => {
        listedBefore = [...changes];
        const podId = await cri.cri.runPod({ namespace: "boot", name: "web-1", labels: { app: "web" } });
        containerId = await cri.cri.runContainer(podId, {
          name: "app",
          image: APP_IMAGE,
          command: [CALLER_BINARY],
          args: ["/out/calls"],
          mounts: { [out]: "/out" },
        });
      },
    });
    expect(following.runtimes).toEqual(["containerd", "docker"]);
    const { events, done } = collect(following);
    const log = () => ({ changes, events: events.length });
    expect(listedBefore).toEqual([]);
    expect(changes[0]).toMatchObject({ type: "waiting", scope: "k8s/boot/app=web/app" });
    await until("attached", () => changes.some((c) => c.type === "attached"), log);
    await until("ready", () => printed().split("\n").includes("ready"), log);
    const task = cri
      .ctr(["-n", CRI_NAMESPACE, "tasks", "ls"])
      .split("\n")
      .find((l) => l.startsWith(containerId));
    const pid = Number(task?.split(/\s+/)[1]);
    process.kill(pid, "SIGUSR1");
    await until("5 calls printed", () => callsIn(printed()).length >= 5, log);
    await until("5 hits", () => events.length >= 5, log);
    await done();
    expect(changes.slice(1)).toEqual([{ type: "attached", scope: "k8s/boot/web-1/app", id: containerId, points: 1, failed: 0 }]);
    expect(events.map((e) => e.fields.n)).toEqual(callsIn(printed()));
    expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n]);
    for (const e of events) {
      expect(e.pod).toEqual({ namespace: "boot", name: "web-1", container: "app" });
      expect([e.containerId, e.pid]).toEqual([containerId, pid]);
    }
  }, 180_000);

  it("the listing waits for containerd's stream: with ctr events held back, nothing is listed, and a pod created meanwhile is attached once it runs", async () => {
    const cri = runtime as CriContainerd;
    // A ctr that runs `events` only once the test writes to a FIFO (every other command runs at once).
    const gate = join(dir, "ctr-gate");
    const started = join(dir, "ctr-events-started");
    execFileSync("mkfifo", [gate]);
    const wrapper = join(dir, "ctr-gated");
    writeFileSync(wrapper, `#!/bin/sh\nif [ "$3" = events ]; then : > '${started}'; read _ < '${gate}'; fi\nexec ctr "$@"\n`);
    chmodSync(wrapper, 0o755);
    const out = mkdtempSync(join(dir, "gated-web-"));
    const calls = join(out, "calls");
    const changes: FollowChange[] = [];
    let listed = false;
    const following = follow("uprobe k8s/gated/app=web/app:exe:work { n = arg0 }", {
      containerd: { address: cri.socket, ctr: wrapper },
      docker: { host: `unix://${dir}/no-docker.sock` },
      onChange: (c) => changes.push(c),
      afterListing: async () => {
        listed = true;
      },
    });
    await until(
      "ctr events started",
      () => existsSync(started),
      () => changes,
    );
    const podId = await cri.cri.runPod({ namespace: "gated", name: "web-1", labels: { app: "web" } });
    const containerId = await cri.cri.runContainer(podId, {
      name: "app",
      image: APP_IMAGE,
      command: [CALLER_BINARY],
      args: ["/out/calls"],
      mounts: { [out]: "/out" },
    });
    // The pod runs and containerd has not one subscriber of probec's: the session has not listed.
    expect(listed).toBe(false);
    expect(changes.filter((c) => c.type !== "warning")).toEqual([]);
    writeFileSync(gate, "go\n");
    const session = await following;
    const { events, done } = collect(session);
    const log = () => ({ changes, events: events.length });
    expect(listed).toBe(true);
    expect(changes).toEqual([
      { type: "warning", scope: "k8s/gated/app=web/app", message: `docker is not reachable (no socket at ${dir}/no-docker.sock): following containerd only` },
      { type: "attached", scope: "k8s/gated/web-1/app", id: containerId, points: 1, failed: 0 },
    ]);
    await until("ready", () => readFileSync(calls, "utf8").split("\n").includes("ready"), log);
    const task = cri
      .ctr(["-n", CRI_NAMESPACE, "tasks", "ls"])
      .split("\n")
      .find((l) => l.startsWith(containerId));
    process.kill(Number(task?.split(/\s+/)[1]), "SIGUSR1");
    await until("5 calls printed", () => callsIn(readFileSync(calls, "utf8")).length >= 5, log);
    await until("5 hits", () => events.length >= 5, log);
    await done();
    expect(events.map((e) => e.fields.n)).toEqual(callsIn(readFileSync(calls, "utf8")));
    expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n]);
    await cri.cri.removePod(podId);
  }, 180_000);
});
