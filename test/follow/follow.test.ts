/**
 * follow() on the real test Docker daemon (test/support/dockerd.ts): a
 * named container followed across a start after probec began, a restart,
 * a stop and a re-creation; a sibling with another name sees nothing.
 * Each container runs test/follow/caller.ts, which on SIGUSR1 calls work(n)
 * five times and prints each call: the hits of each container are compared, exactly,
 * with the calls it printed.
 *
 * Named scopes only: selectors (`docker/app=web`) are being added to the
 * scope syntax by another change and plug into src/follow/scope.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { StringSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import { follow, type FollowChange, type Following } from "../../src/follow/index.js";
import { buildCaller, CALLER_BINARY, CALLER_IMAGE, until, callsIn } from "./caller.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST } from "../support/dockerd.js";

const NAMES = ["probec-follow-web", "probec-follow-db", "probec-follow-cli"] as const;
const [WEB, DB] = NAMES;
let dir: string;
const image = CALLER_IMAGE;
const binary = CALLER_BINARY;

beforeAll(async () => {
  await ensureDockerd();
  dir = mkdtempSync(join(tmpdir(), "probec-follow-"));
  buildCaller();
  importBinariesImage(image, [binary]);
}, 120_000);

afterAll(() => {
  removeContainers(...NAMES);
  rmSync(dir, { recursive: true, force: true });
});

/** The calls a container printed (its whole log, across restarts). */
function printedCalls(name: string): bigint[] {
  return callsIn(docker(["logs", name]));
}

describe("follow() on Docker", () => {
  it("a named container: attached when it starts after probec, again after a restart and a re-creation, detached when it stops; a sibling sees nothing", async () => {
    removeContainers(...NAMES);
    runContainer(image, DB, [binary]);
    const changes: FollowChange[] = [];
    const following: Following = await follow(`uprobe docker/${WEB}:exe:work { n = arg0 }`, {
      file: "follow.test.probe",
      docker: { host: TEST_DOCKER_HOST },
      onChange: (c) => changes.push(c),
    });
    expect(changes).toEqual([{ type: "waiting", scope: `docker/${WEB}`, message: expect.stringContaining("waiting for one to start") }]);
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const log = () => ({ changes, events: events.length });
    const attachedCount = () => changes.filter((c) => c.type === "attached").length;
    const detachedCount = () => changes.filter((c) => c.type === "detached").length;
    /** Makes a container call work() 5 times and waits until it printed them; returns how many calls it printed in all. */
    const poke = async (name: string, expected: number): Promise<void> => {
      docker(["kill", "-s", "USR1", name]);
      await until(`${name} printed ${expected} calls`, () => printedCalls(name).length >= expected, log);
    };

    // Started after probec: attached from its start event.
    const first = runContainer(image, WEB, [binary]);
    await until("web attached", () => attachedCount() === 1, log);
    expect(changes[1]).toEqual({ type: "attached", scope: `docker/${WEB}`, id: first, points: 1, failed: 0 });
    await poke(WEB, 5); // calls 0..4
    await poke(DB, 5);
    await until("5 hits", () => events.length >= 5, log);

    // A restart: detached (exited), attached again; the program starts counting from 0 again.
    docker(["restart", "-t", "0", WEB]);
    await until("web re-attached", () => attachedCount() === 2 && detachedCount() >= 1, log);
    expect(changes.find((c) => c.type === "detached")).toEqual({ type: "detached", scope: `docker/${WEB}`, id: first, reason: "exited" });
    await poke(WEB, 10); // calls 0..4 of the second run
    await until("10 hits", () => events.length >= 10, log);

    // Stopped: detached; calls made meanwhile are not seen (it is stopped, it makes none) and nothing stays attached.
    docker(["stop", "-t", "0", WEB]);
    await until("web detached again", () => detachedCount() === 2, log);
    expect(following.attached.size).toBe(0);

    // Re-created under the same name: a new id, followed by name.
    removeContainers(WEB);
    const second = runContainer(image, WEB, [binary]);
    await until("the new web attached", () => attachedCount() === 3, log);
    expect(changes.filter((c) => c.type === "attached").at(-1)).toMatchObject({ id: second, scope: `docker/${WEB}` });
    await poke(WEB, 5);
    await poke(DB, 10);
    await until("15 hits", () => events.length >= 15, log);

    const summary = await following.close();
    await reading;
    expect(summary.reason).toBe("SIGTERM");
    // Exactly the calls the web containers printed, in order, and none of db's.
    const n = events.map((e) => e.fields.n as bigint);
    expect(n).toEqual([0n, 1n, 2n, 3n, 4n, 0n, 1n, 2n, 3n, 4n, 0n, 1n, 2n, 3n, 4n]);
    expect(new Set(events.map((e) => e.pid)).size).toBe(3);
    expect(printedCalls(DB)).toHaveLength(10);
    removeContainers(...NAMES);
  }, 120_000);

  it("probec run FILE --follow --json: status lines and objects for each container attached and detached, and the events of each run", async () => {
    const name = NAMES[2];
    removeContainers(name);
    writeFileSync(join(dir, "cli.probe"), `uprobe docker/${name}:exe:work { n = arg0 }\n`);
    const stdout = new StringSink();
    const stderr = new StringSink();
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = TEST_DOCKER_HOST;
    const running = run(["run", join(dir, "cli.probe"), "--follow", "--json", "--count", "10"], { stdout, stderr }, {});
    const lines = () =>
      stdout.text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const log = () => ({ stdout: stdout.text, stderr: stderr.text });
    try {
      await until("waiting", () => stderr.text.includes("waiting for one to start"), log);
      const first = runContainer(image, name, [binary]);
      await until("attached", () => lines().some((l) => l.container === "attached"), log);
      docker(["kill", "-s", "USR1", name]);
      await until("5 events", () => lines().filter((l) => "fields" in l || "n" in l).length >= 5, log);
      docker(["stop", "-t", "0", name]);
      await until("detached", () => lines().some((l) => l.container === "detached"), log);
      docker(["start", name]);
      await until("attached again", () => lines().filter((l) => l.container === "attached").length === 2, log);
      docker(["kill", "-s", "USR1", name]);
      expect(await running).toBe(0);
      const objects = lines();
      expect(objects.filter((l) => "container" in l && typeof l.container === "string" && ["attached", "detached"].includes(l.container))).toEqual([
        { container: "attached", scope: `docker/${name}`, id: first, points: 1, failed: 0 },
        { container: "detached", scope: `docker/${name}`, id: first, reason: "exited" },
        { container: "attached", scope: `docker/${name}`, id: first, points: 1, failed: 0 },
      ]);
      expect(stderr.text).toContain(`probec: + docker/${name} (1 point)\n`);
      expect(stderr.text).toContain(`probec: - docker/${name} (exited)\n`);
      expect(stderr.text).toContain("--count 10 reached");
      expect(printedCalls(name)).toHaveLength(10);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      removeContainers(name);
    }
  }, 120_000);
});
