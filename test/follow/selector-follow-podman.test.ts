/**
 * follow() with a `podman/SELECTOR` scope on the test Podman service
 * (test/support/podman.ts; its Docker-compatible `/events`): an app=web
 * container running before probec and one started after are attached, a
 * stopped one detached; each one's hits are exactly the calls it printed
 * (test/follow/caller.ts), and a sibling app=db of the same image sees
 * nothing. All carry probec.test=follow-podman, so that other test files'
 * containers in the shared store never match.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { follow, type FollowChange } from "../../src/follow/index.js";
import { ensurePodmanService, importPodmanImage, podman, removePodmanContainers, runPodmanContainer, TEST_PODMAN_HOST } from "../support/podman.js";
import { buildCaller, CALLER_BINARY, CALLER_IMAGE, until, callsIn } from "./caller.js";

const WEB1 = "probec-fpod-web-1";
const WEB2 = "probec-fpod-web-2";
const DB = "probec-fpod-db";
const labels = (app: string): string[] => ["--label", `app=${app}`, "--label", "probec.test=follow-podman"];

beforeAll(async () => {
  await ensurePodmanService();
  buildCaller();
  importPodmanImage(CALLER_IMAGE, [CALLER_BINARY]);
}, 180_000);

afterAll(() => removePodmanContainers(WEB1, WEB2, DB));

/** The calls a container printed, in order. */
function printedCalls(name: string): bigint[] {
  return callsIn(podman(["logs", name]));
}

describe("follow() with a selector on Podman", () => {
  it("podman/app=web: containers before and after attached, a stopped one detached; each one's calls exactly, none of app=db's", async () => {
    const web1 = runPodmanContainer(CALLER_IMAGE, WEB1, [CALLER_BINARY], labels("web"));
    runPodmanContainer(CALLER_IMAGE, DB, [CALLER_BINARY], labels("db"));
    const changes: FollowChange[] = [];
    const following = await follow('uprobe podman/"app=web,probec.test=follow-podman":exe:work { n = arg0 }', {
      podman: { host: TEST_PODMAN_HOST },
      onChange: (c) => changes.push(c),
    });
    expect(changes).toEqual([{ type: "attached", scope: `podman/${WEB1}`, id: web1, points: 1, failed: 0 }]);
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const log = () => ({ changes, events: events.length });
    const poke = async (name: string, printed: number): Promise<void> => {
      podman(["kill", "-s", "USR1", name]);
      await until(`${name} printed ${printed} calls`, () => printedCalls(name).length >= printed, log);
    };

    const web2 = runPodmanContainer(CALLER_IMAGE, WEB2, [CALLER_BINARY], labels("web"));
    await until("web-2 attached", () => changes.some((c) => c.type === "attached" && c.id === web2), log);
    expect(changes.at(-1)).toEqual({ type: "attached", scope: `podman/${WEB2}`, id: web2, points: 1, failed: 0 });
    expect(following.attached.get(web2)).toEqual(following.attached.get(web1));
    await poke(WEB1, 5);
    await poke(WEB2, 5);
    await poke(DB, 5);
    await until("10 hits", () => events.length >= 10, log);

    podman(["stop", "-t", "0", WEB1]);
    await until("web-1 detached", () => changes.some((c) => c.type === "detached" && c.id === web1), log);
    expect([...following.attached.keys()]).toEqual([web2]);
    await poke(WEB2, 10);
    await until("15 hits", () => events.length >= 15, log);
    await following.close();
    await reading;

    const of = (name: string) => events.filter((e) => e.container === name).map((e) => e.fields.n);
    expect(of(WEB1)).toEqual(printedCalls(WEB1));
    expect(of(WEB1)).toHaveLength(5);
    expect(of(WEB2)).toEqual(printedCalls(WEB2));
    expect(of(WEB2)).toHaveLength(10);
    expect(events).toHaveLength(15);
    expect(printedCalls(DB)).toHaveLength(5);
    expect(changes.filter((c) => c.type === "failed" || c.type === "warning")).toEqual([]);
  }, 180_000);
});
