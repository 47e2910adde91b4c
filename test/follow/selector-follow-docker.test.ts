/**
 * follow() with a selector scope on the real test Docker daemon
 * (test/support/dockerd.ts, issue 14): containers labelled app=web, one
 * started before probec and one after, one restarted, one stopped, and a
 * sibling app=db of the same image that must see nothing. Every container
 * runs test/follow/caller.ts, which prints its own calls of work(n): each
 * container's hits are compared, exactly, with the calls it printed.
 * Both web containers run the image's one binary (one layer inode), so they
 * share one helper entry (one uprobe_multi link), each joined by its mount
 * namespace; the first to come restarting while the other stays checks that
 * the entry keeps no container's namespace of its own.
 *
 * All containers carry probec.test=follow-selector, so that other test
 * files' containers in the shared daemon never match.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeEvent } from "../../src/attach/events.js";
import { StringSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import { UsageError } from "../../src/errors.js";
import { follow, type FollowChange } from "../../src/follow/index.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST } from "../support/dockerd.js";
import { buildCaller, CALLER_BINARY, CALLER_IMAGE, until, callsIn } from "./caller.js";

const WEB1 = "probec-fsel-web-1";
const WEB2 = "probec-fsel-web-2";
const DB = "probec-fsel-db";
const CLI = "probec-fsel-cli";
const SCOPE = 'docker/"app=web,probec.test=follow-selector"';
let dir: string;

const labels = (app: string): string[] => ["--label", `app=${app}`, "--label", "probec.test=follow-selector"];

beforeAll(async () => {
  await ensureDockerd();
  dir = mkdtempSync(join(tmpdir(), "probec-fsel-"));
  buildCaller();
  importBinariesImage(CALLER_IMAGE, [CALLER_BINARY]);
}, 120_000);

afterAll(() => {
  removeContainers(WEB1, WEB2, DB, CLI);
  rmSync(dir, { recursive: true, force: true });
});

/** The calls a container printed, in order, across its runs (each run counts from 0). */
function printedCalls(name: string): bigint[] {
  return callsIn(docker(["logs", name]));
}

/** The helper this process started (the only probec-attach child of this thread). */
function helperPid(): number {
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim().split(/\s+/);
  const helpers = children.filter((c) => c !== "" && readFileSync(`/proc/${c}/comm`, "utf8").trim() === "probec-attach");
  expect(helpers).toHaveLength(1);
  return Number(helpers[0]);
}

/** uprobe_multi links and perf events the helper holds: what the kernel has attached for it. */
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

describe("follow() with a selector on Docker", () => {
  it("app=web containers started before and after, one restarted, one stopped: each one's calls exactly, one shared entry, none of app=db's", async () => {
    removeContainers(WEB1, WEB2, DB);
    const web1 = runContainer(CALLER_IMAGE, WEB1, [CALLER_BINARY], labels("web"));
    runContainer(CALLER_IMAGE, DB, [CALLER_BINARY], labels("db"));
    const changes: FollowChange[] = [];
    const following = await follow(`uprobe ${SCOPE}:exe:work { n = arg0 }`, {
      file: "selector.probe",
      docker: { host: TEST_DOCKER_HOST },
      onChange: (c) => changes.push(c),
    });
    // Running when probec started: attached before follow() resolved.
    expect(changes).toEqual([{ type: "attached", scope: `docker/${WEB1}`, id: web1, points: 1, failed: 0 }]);
    const events: ProbeEvent[] = [];
    const reading = (async () => {
      for await (const e of following) events.push(e);
    })();
    const log = () => ({ changes, events: events.length });
    const of = (name: string) => events.filter((e) => e.container === name).map((e) => e.fields.n);
    const poke = async (name: string, printed: number): Promise<void> => {
      docker(["kill", "-s", "USR1", name]);
      await until(`${name} printed ${printed} calls`, () => printedCalls(name).length >= printed, log);
    };
    const helper = helperPid();
    const linksForOne = attachments(helper);
    expect(linksForOne).toBeGreaterThan(0);

    // Started after: attached from its start event, into the same entry (same binary), with no second link.
    const web2 = runContainer(CALLER_IMAGE, WEB2, [CALLER_BINARY], labels("web"));
    await until("web-2 attached", () => changes.some((c) => c.type === "attached" && c.id === web2), log);
    expect(changes.at(-1)).toEqual({ type: "attached", scope: `docker/${WEB2}`, id: web2, points: 1, failed: 0 });
    expect(following.attached.get(web2)).toEqual(following.attached.get(web1));
    expect(attachments(helper)).toBe(linksForOne);

    await poke(WEB1, 5);
    await poke(WEB2, 5);
    await poke(DB, 5);
    await until("10 hits", () => events.length >= 10, log);

    // web-1 restarts while web-2 stays: detached (exited), attached again; its new run counts from 0.
    docker(["restart", "-t", "0", WEB1]);
    await until("web-1 re-attached", () => changes.filter((c) => c.type === "attached" && c.id === web1).length === 2, log);
    expect(changes.find((c) => c.type === "detached")).toEqual({ type: "detached", scope: `docker/${WEB1}`, id: web1, reason: "exited" });
    await poke(WEB1, 10);
    await poke(WEB2, 10);
    await until("20 hits", () => events.length >= 20, log);

    // web-2 stops: detached; web-1 keeps the entry, and db still sees nothing.
    docker(["stop", "-t", "0", WEB2]);
    await until("web-2 detached", () => changes.some((c) => c.type === "detached" && c.id === web2), log);
    expect(following.attached.size).toBe(1);
    expect(attachments(helper)).toBe(linksForOne);
    await poke(WEB1, 15);
    await poke(DB, 10);
    await until("25 hits", () => events.length >= 25, log);

    // web-1 stops too: the entry goes with its last container.
    docker(["stop", "-t", "0", WEB1]);
    await until("web-1 detached", () => changes.filter((c) => c.type === "detached" && c.id === web1).length === 2, log);
    expect(attachments(helper)).toBe(0);
    const summary = await following.close();
    await reading;
    // The removed entry's hits stay in its probe's totals; nothing is attached at the end.
    expect(summary.probes).toEqual([{ id: "probe1", hits: 25, lost: 0, attached: 0, failed: 0 }]);

    expect(of(WEB1)).toEqual(printedCalls(WEB1));
    expect(of(WEB1)).toEqual([0n, 1n, 2n, 3n, 4n, 0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    expect(of(WEB2)).toEqual(printedCalls(WEB2));
    expect(of(WEB2)).toHaveLength(10);
    expect(events).toHaveLength(25);
    expect(printedCalls(DB)).toHaveLength(10);
    for (const e of events) expect(e.containerId).toBe(e.container === WEB1 ? web1 : web2);
    expect(changes.filter((c) => c.type === "failed" || c.type === "warning")).toEqual([]);
    removeContainers(WEB1, WEB2, DB);
  }, 180_000);

  it("a selector that matches nothing waits, saying what runs; a malformed one is one error naming it", async () => {
    const changes: FollowChange[] = [];
    const following = await follow("uprobe docker/probec.test=follow-nothing:exe:work { n = arg0 }", {
      docker: { host: TEST_DOCKER_HOST },
      onChange: (c) => changes.push(c),
    });
    await following.close();
    expect(changes).toEqual([
      {
        type: "waiting",
        scope: "docker/probec.test=follow-nothing",
        message: expect.stringMatching(
          /^docker\/probec\.test=follow-nothing: no running docker container matches "probec\.test=follow-nothing": waiting for one to start/,
        ),
      },
    ]);
    const error = await follow('uprobe docker/"app in (web":exe:work { n = arg0 }', { file: "bad.probe", docker: { host: TEST_DOCKER_HOST } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(/^bad\.probe:1:8: .*label selector "app in \(web"/);
  });

  it("probec run FILE --follow --json: a status line and an object per container attached and detached, and each one's events", async () => {
    removeContainers(CLI);
    writeFileSync(join(dir, "cli.probe"), `uprobe docker/"app=cli,probec.test=follow-selector":exe:work { n = arg0 }\n`);
    const stdout = new StringSink();
    const stderr = new StringSink();
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = TEST_DOCKER_HOST;
    const running = run(["run", join(dir, "cli.probe"), "--follow", "--json", "--count", "5"], { stdout, stderr }, {});
    const lines = () =>
      stdout.text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const log = () => ({ stdout: stdout.text, stderr: stderr.text });
    try {
      await until("waiting", () => stderr.text.includes("waiting for one to start"), log);
      const id = runContainer(CALLER_IMAGE, CLI, [CALLER_BINARY], labels("cli"));
      await until("attached", () => lines().some((l) => l.container === "attached"), log);
      docker(["kill", "-s", "USR1", CLI]);
      expect(await running).toBe(0);
      const objects = lines();
      expect(objects.filter((l) => l.container === "attached")).toEqual([{ container: "attached", scope: `docker/${CLI}`, id, points: 1, failed: 0 }]);
      expect(objects.filter((l) => "fields" in l || "n" in l)).toHaveLength(5);
      expect(stderr.text).toContain(`probec: + docker/${CLI} (1 point)\n`);
      expect(stderr.text).toContain("--count 5 reached");
      expect(stderr.text).toMatch(/^probe1\s+5\s+0$/m);
      expect(printedCalls(CLI)).toHaveLength(5);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      removeContainers(CLI);
    }
  }, 120_000);
});
