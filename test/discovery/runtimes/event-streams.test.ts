/**
 * The runtimes' event streams against real daemons, and when each says it
 * is live (EventOptions.onLive, issue 14): containerd's once probec's own
 * sync event has come back through `ctr events` (on the tests' containerd,
 * test/support/containerd.ts), Docker's once the daemon has answered a
 * request for the events since before it was sent (the tests' dockerd, and
 * a proxy that answers before the daemon subscribes, as dockerd itself
 * does). After onLive, a container's life comes through in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerdEvents, SYNC_NAMESPACE } from "../../../src/discovery/runtimes/containerd-events.js";
import { publishEvent, publishRequest } from "../../../src/discovery/runtimes/containerd-publish.js";
import { taskPid } from "../../../src/discovery/runtimes/containerd.js";
import { engineEvents, sinceParameter } from "../../../src/discovery/runtimes/docker-events.js";
import type { EventOptions, RuntimeEvent } from "../../../src/discovery/runtimes/runtime.js";
import { IoError } from "../../../src/errors.js";
import { ctr, ensureContainerd, removeCtrContainer, TEST_CONTAINERD_SOCKET } from "../../support/containerd.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_SOCKET } from "../../support/dockerd.js";
import { startEventsProxy } from "../../follow/events-proxy.js";
import { until } from "../../follow/caller.js";

const NS = "probec-evstream-test";
const IMAGE = "docker.io/library/probec-ctr-sleep:latest";
const CTR_ID = "probec-evstream";
const DOCKER_NAME = "probec-evstream";
const DOCKER_LATE = "probec-evstream-late";
let dir: string;

beforeAll(async () => {
  await Promise.all([ensureDockerd(), ensureContainerd()]);
  dir = mkdtempSync(join(tmpdir(), "probec-evstream-"));
  importBinariesImage("probec-ctr-sleep");
  if (!ctr(["-n", NS, "images", "ls", "-q"]).split("\n").includes(IMAGE)) {
    const tar = join(dir, "sleep.tar");
    docker(["save", "-o", tar, "probec-ctr-sleep:latest"]);
    ctr(["-n", NS, "images", "import", tar]);
  }
}, 120_000);

afterAll(() => {
  removeCtrContainer(NS, CTR_ID);
  removeContainers(DOCKER_NAME, DOCKER_LATE);
  rmSync(dir, { recursive: true, force: true });
});

/** Reads a stream in the background: the events so far, when onLive came (as the count of events then), and its end. */
function read(open: (options: EventOptions) => AsyncIterable<RuntimeEvent>) {
  const abort = new AbortController();
  const state = { events: [] as RuntimeEvent[], liveAfter: [] as number[], error: undefined as unknown };
  const ended = (async () => {
    try {
      for await (const e of open({ signal: abort.signal, onLive: () => state.liveAfter.push(state.events.length) })) state.events.push(e);
    } catch (error) {
      state.error = error;
    }
  })();
  return {
    state,
    stop: async () => {
      abort.abort();
      await ended;
    },
    ended,
  };
}

describe("containerd's stream", () => {
  it("is live once its sync event came back (which it never yields); then a container's create, start, exit and delete come in order", async () => {
    removeCtrContainer(NS, CTR_ID);
    const stream = read((o) => containerdEvents({ address: TEST_CONTAINERD_SOCKET }, o));
    await until(
      "live",
      () => stream.state.liveAfter.length > 0 || stream.state.error !== undefined,
      () => stream.state,
    );
    expect(stream.state.error).toBeUndefined();
    expect(stream.state.liveAfter).toEqual([0]);
    ctr(["-n", NS, "run", "-d", IMAGE, CTR_ID, "/usr/bin/sleep", "600"]);
    const pid = await taskPid(NS, CTR_ID, { address: TEST_CONTAINERD_SOCKET });
    removeCtrContainer(NS, CTR_ID);
    const mine = () => stream.state.events.filter((e) => e.id === CTR_ID);
    await until(
      "its delete",
      () => mine().some((e) => e.action === "destroy"),
      () => stream.state,
    );
    await stream.stop();
    expect(stream.state.error).toBeUndefined();
    expect(
      mine()
        .filter((e) => e.action !== "other")
        .map((e) => [e.action, e.namespace]),
    ).toEqual([
      ["create", NS],
      ["start", NS],
      ["exit", NS],
      ["destroy", NS],
    ]);
    expect(mine().find((e) => e.action === "start")?.pid).toBe(pid);
    expect(stream.state.liveAfter).toEqual([0]);
    expect(stream.state.events.filter((e) => e.namespace === SYNC_NAMESPACE)).toEqual([]);
  }, 60_000);

  it("two streams at once each go live on their own sync event", async () => {
    const a = read((o) => containerdEvents({ address: TEST_CONTAINERD_SOCKET }, o));
    const b = read((o) => containerdEvents({ address: TEST_CONTAINERD_SOCKET }, o));
    await until(
      "both live",
      () => a.state.liveAfter.length + b.state.liveAfter.length === 2,
      () => [a.state, b.state],
    );
    await Promise.all([a.stop(), b.stop()]);
    expect([a.state.liveAfter, b.state.liveAfter, a.state.error, b.state.error]).toEqual([[0], [0], undefined, undefined]);
  }, 60_000);

  it("on a socket nobody listens on: an IoError, and never live", async () => {
    const stream = read((o) => containerdEvents({ address: join(dir, "none.sock") }, o));
    await stream.ended;
    expect(stream.state.error).toBeInstanceOf(IoError);
    expect((stream.state.error as IoError).message).toContain(join(dir, "none.sock"));
    expect(stream.state.liveAfter).toEqual([]);
  }, 60_000);
});

describe("either stream", () => {
  it("aborted as it goes live, ends at once, without an error", async () => {
    const opens = [
      (o: EventOptions) => containerdEvents({ address: TEST_CONTAINERD_SOCKET }, o),
      (o: EventOptions) => engineEvents("docker", TEST_DOCKER_SOCKET, o),
    ];
    for (const open of opens) {
      const abort = new AbortController();
      let afterLive = 0;
      // Other tests' containers may come before it goes live; nothing comes after.
      for await (const _ of open({ signal: abort.signal, onLive: () => abort.abort() })) if (abort.signal.aborted) afterLive++;
      expect([abort.signal.aborted, afterLive]).toEqual([true, 0]);
    }
  }, 60_000);
});

describe("publishEvent", () => {
  it("encodes PublishRequest{topic, event: Any{type_url, value}} as protobuf", () => {
    const bytes = publishRequest({ namespace: "n", topic: "/a/b", typeUrl: "t.E", value: Uint8Array.from([1, 2]) });
    // Field 1 (0x0a) "/a/b"; field 2 (0x12) Any: field 1 (0x0a) "t.E", field 2 (0x12) [1, 2].
    expect([...bytes]).toEqual([0x0a, 4, ...Buffer.from("/a/b"), 0x12, 9, 0x0a, 3, ...Buffer.from("t.E"), 0x12, 2, 1, 2]);
  });

  it("is refused, with containerd's reason, for a namespace that is not an identifier", async () => {
    const error = await publishEvent(
      TEST_CONTAINERD_SOCKET,
      { namespace: "not one", topic: "/probec/live/test", typeUrl: "google.protobuf.Empty" },
      5000,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IoError);
    expect((error as IoError).message).toMatch(
      new RegExp(`^containerd: publishing /probec/live/test on ${TEST_CONTAINERD_SOCKET}: containerd refused it \\(gRPC status 3\\): .*namespace`),
    );
  });

  it("says which socket did not answer, and what to check", async () => {
    const error = await publishEvent(join(dir, "none.sock"), { namespace: "n", topic: "/probec/live/test", typeUrl: "google.protobuf.Empty" }, 5000).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IoError);
    expect((error as IoError).message).toMatch(/^containerd: publishing \/probec\/live\/test on .*none\.sock: .*ENOENT/);
    expect((error as IoError).hints).toEqual(["is containerd running, and are you root?"]);
  });
});

describe("Docker's stream", () => {
  it("gives the Engine API's since as seconds and nine digits of nanoseconds, never later than the time given", () => {
    expect(sinceParameter(1764756000123)).toBe("1764756000.123000000");
    expect(sinceParameter(1764756000000.9)).toBe("1764756000.000000000");
  });

  it("is live at the daemon's answer; a container started then comes through with its start", async () => {
    removeContainers(DOCKER_NAME);
    const stream = read((o) => engineEvents("docker", TEST_DOCKER_SOCKET, o));
    await until(
      "live",
      () => stream.state.liveAfter.length > 0 || stream.state.error !== undefined,
      () => stream.state,
    );
    const id = runContainer("probec-ctr-sleep", DOCKER_NAME, ["/usr/bin/sleep", "600"]);
    await until(
      "its start",
      () => stream.state.events.some((e) => e.id === id && e.action === "start"),
      () => stream.state,
    );
    await stream.stop();
    expect(stream.state.error).toBeUndefined();
    expect(stream.state.liveAfter).toEqual([0]);
    expect(stream.state.events.filter((e) => e.id === id).map((e) => [e.action, e.name])).toEqual([
      ["create", DOCKER_NAME],
      ["start", DOCKER_NAME],
    ]);
    removeContainers(DOCKER_NAME);
  }, 60_000);

  it("answered before the daemon subscribed: a container started in between is replayed, from the since taken before the request", async () => {
    removeContainers(DOCKER_LATE);
    const proxy = await startEventsProxy(join(dir, "early.sock"), TEST_DOCKER_SOCKET);
    try {
      const stream = read((o) => engineEvents("docker", proxy.socket, o));
      await until(
        "live",
        () => stream.state.liveAfter.length > 0 || stream.state.error !== undefined,
        () => stream.state,
      );
      const id = runContainer("probec-ctr-sleep", DOCKER_LATE, ["/usr/bin/sleep", "600"]);
      proxy.release();
      await until(
        "its start",
        () => stream.state.events.some((e) => e.id === id && e.action === "start"),
        () => stream.state,
      );
      await stream.stop();
      expect(stream.state.error).toBeUndefined();
      expect(proxy.held).toEqual([expect.stringMatching(/^GET \/events\?since=\d+\.\d{9}&/)]);
      expect(stream.state.events.filter((e) => e.id === id).map((e) => e.action)).toEqual(["create", "start"]);
    } finally {
      await proxy.close();
      removeContainers(DOCKER_LATE);
    }
  }, 60_000);
});
