/**
 * follow() under churn, on the real test Docker daemon: 20 containers, one
 * after another under one followed name (each a new container, a new id),
 * started, made to call work() five times, and stopped (over ~20 s here;
 * the 60 s is the same loop with a pause between starts). Every one
 * is attached, its hits are exactly the calls it printed, nothing stays
 * attached after its stop (the helper holds no uprobe_multi link and no
 * perf event once the container is detached), and the helper's resident
 * memory after the 20th is within 1 MiB of that after the 5th.
 *
 * Also: the runtime's socket going away mid-run is a warning, and the
 * session goes on with what it has (the attached container keeps
 * delivering events).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { follow, type FollowChange } from "../../src/follow/index.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST, TEST_DOCKER_SOCKET } from "../support/dockerd.js";
import { CALLER_BINARY, CALLER_IMAGE, buildCaller, until, callsIn } from "./caller.js";

const NAME = "probec-follow-churn";
const PROXIED = "probec-follow-proxied";
const ROUNDS = 20;

beforeAll(async () => {
  await ensureDockerd();
  buildCaller();
  importBinariesImage(CALLER_IMAGE, [CALLER_BINARY]);
}, 120_000);

afterAll(() => removeContainers(NAME, PROXIED));

function printedCalls(name: string): number {
  return callsIn(docker(["logs", name])).length;
}

/** The helper this process started (the only probec-attach child of this thread). */
function helperPid(): number {
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter((c) => c !== "");
  const helpers = children.filter((c) => readFileSync(`/proc/${c}/comm`, "utf8").trim() === "probec-attach");
  expect(helpers).toHaveLength(1);
  return Number(helpers[0]);
}

/** uprobe_multi links and perf events the helper holds. */
function attachments(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
      if (/^link_type:\s+u(?:ret)?probe_multi$/m.test(info)) n++;
      else if (execFileSync("readlink", [`/proc/${pid}/fd/${fd}`], { encoding: "utf8" }).trim() === "anon_inode:[perf_event]") n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

describe("follow() under churn", () => {
  it(`${ROUNDS} containers started and stopped in turn: each attached, its hits exact, nothing left after its stop, the helper's memory flat`, async () => {
    removeContainers(NAME);
    const changes: FollowChange[] = [];
    const following = await follow(`uprobe docker/${NAME}:exe:work { n = arg0 }`, { docker: { host: TEST_DOCKER_HOST }, onChange: (c) => changes.push(c) });
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const helper = helperPid();
    const log = () => ({ changes: changes.slice(-4), events: events.length });
    let rssAfter5 = 0;
    const ids: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      removeContainers(NAME);
      const id = runContainer(CALLER_IMAGE, NAME, [CALLER_BINARY]);
      ids.push(id);
      await until(`container ${round} attached`, () => changes.some((c) => c.type === "attached" && c.id === id), log);
      expect(attachments(helper)).toBeGreaterThan(0);
      docker(["kill", "-s", "USR1", NAME]);
      await until(`container ${round} printed its calls`, () => printedCalls(NAME) === 5, log);
      await until(`container ${round}: 5 more hits`, () => events.length >= round * 5, log);
      docker(["stop", "-t", "0", NAME]);
      await until(`container ${round} detached`, () => changes.some((c) => c.type === "detached" && c.id === id), log);
      expect(attachments(helper)).toBe(0);
      expect(following.attached.size).toBe(0);
      if (round === 5) rssAfter5 = rssKiB(helper);
    }
    const rssAfter20 = rssKiB(helper);
    await following.close();
    await reading;
    expect(changes.filter((c) => c.type === "attached").map((c) => c.type === "attached" && c.id)).toEqual(ids);
    expect(changes.filter((c) => c.type === "failed" || c.type === "warning")).toEqual([]);
    // Each container's hits: exactly its five calls, 0..4, from its own process.
    const pids = new Set(events.map((e) => e.pid));
    expect(pids.size).toBe(ROUNDS);
    expect(events.map((e) => e.fields.n)).toEqual(Array.from({ length: ROUNDS }, () => [0n, 1n, 2n, 3n, 4n]).flat());
    expect(rssAfter20 - rssAfter5).toBeLessThanOrEqual(1024);
    removeContainers(NAME);
  }, 240_000);

  it("the runtime's socket going away mid-run: a warning, and the attached container keeps delivering events", async () => {
    removeContainers(PROXIED);
    // A socket of our own in front of the test daemon's, so that it can go away.
    const path = `/tmp/probec-follow-proxy-${process.pid}.sock`;
    rmSync(path, { force: true });
    const open = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = createConnection(TEST_DOCKER_SOCKET);
      open.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const id = runContainer(CALLER_IMAGE, PROXIED, [CALLER_BINARY]);
    const changes: FollowChange[] = [];
    const following = await follow(`uprobe docker/${PROXIED}:exe:work { n = arg0 }`, { docker: { host: `unix://${path}` }, onChange: (c) => changes.push(c) });
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const log = () => ({ changes, events: events.length });
    expect(changes).toEqual([{ type: "attached", scope: `docker/${PROXIED}`, id, points: 1, failed: 0 }]);

    server.close();
    for (const s of open) s.destroy();
    rmSync(path, { force: true });
    await until("the warning", () => changes.some((c) => c.type === "warning"), log);
    expect(changes.at(-1)).toEqual({
      type: "warning",
      scope: `docker/${PROXIED}`,
      message: expect.stringMatching(
        new RegExp(`^docker at .*probec-follow-proxy-${process.pid}\\.sock: .*; containers already attached stay attached, new ones are not seen$`),
      ),
    });
    docker(["kill", "-s", "USR1", PROXIED]);
    await until("5 events after the socket went", () => events.length >= 5, log);
    await following.close();
    await reading;
    expect(events.map((e) => e.fields.n)).toEqual([0n, 1n, 2n, 3n, 4n]);
    removeContainers(PROXIED);
  }, 120_000);
});
