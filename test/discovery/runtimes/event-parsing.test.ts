/**
 * The two event-stream line parsers, on lines copied from real streams
 * (`ctr events` against the tests' containerd, `GET /events` from the tests'
 * dockerd), and on lines that are not events: an exec's exit is not the
 * container's, an unknown topic is skipped, garbage is an IoError naming it.
 */
import { describe, expect, it } from "vitest";
import { IoError } from "../../../src/errors.js";
import { parseCtrEvent } from "../../../src/discovery/runtimes/containerd-events.js";
import { parseEngineEvent } from "../../../src/discovery/runtimes/docker-events.js";

describe("parseCtrEvent", () => {
  it("reads a task start with its namespace, pid and time", () => {
    const line = '2026-12-03 10:29:40.752542776 +0000 UTC probec-ctr-test /tasks/start {"container_id":"probec-evt","pid":9017}';
    expect(parseCtrEvent(line)).toEqual({
      runtime: "containerd",
      action: "start",
      rawAction: "/tasks/start",
      id: "probec-evt",
      name: undefined,
      namespace: "probec-ctr-test",
      pid: 9017,
      timeNs: 1796293780752542776n,
    });
  });

  it("tells the container's exit from an exec's, and names creation and deletion", () => {
    const at = "2026-12-03 10:29:41.784486242 +0000 UTC ns";
    expect(parseCtrEvent(`${at} /tasks/exit {"container_id":"c","id":"c","pid":9017,"exited_at":"2026-12-03T10:29:41.784405943Z"}`)?.action).toBe("exit");
    expect(parseCtrEvent(`${at} /tasks/exit {"container_id":"c","id":"exec-1","pid":9020}`)?.action).toBe("other");
    expect(parseCtrEvent(`${at} /containers/create {"id":"c","image":"i"}`)?.action).toBe("create");
    expect(parseCtrEvent(`${at} /containers/delete {"id":"c"}`)?.action).toBe("destroy");
    expect(parseCtrEvent(`${at} /snapshot/prepare {"key":"c","parent":"sha256:dc8c"}`)).toBeUndefined();
  });

  it("refuses a line that is not an event, naming it", () => {
    expect(() => parseCtrEvent("ctr: failed to dial")).toThrow(IoError);
    expect(() => parseCtrEvent("ctr: failed to dial")).toThrow(/not an event: ctr: failed to dial/);
  });
});

describe("parseEngineEvent", () => {
  const start = {
    status: "start",
    id: "4f2c0d2a8b7e1c3d4f2c0d2a8b7e1c3d4f2c0d2a8b7e1c3d4f2c0d2a8b7e1c3d",
    from: "probec-ctr-sleep",
    Type: "container",
    Action: "start",
    Actor: { ID: "4f2c0d2a8b7e1c3d4f2c0d2a8b7e1c3d4f2c0d2a8b7e1c3d4f2c0d2a8b7e1c3d", Attributes: { image: "probec-ctr-sleep", name: "web" } },
    scope: "local",
    time: 1764756000,
    timeNano: 1764756000123456800,
  };

  it("reads a container event with its name, and maps die to exit", () => {
    expect(parseEngineEvent("docker", JSON.stringify(start))).toMatchObject({ runtime: "docker", action: "start", id: start.id, name: "web" });
    expect(parseEngineEvent("podman", JSON.stringify({ ...start, status: "die", Action: "die" }))).toMatchObject({
      runtime: "podman",
      action: "exit",
      rawAction: "die",
    });
    expect(parseEngineEvent("docker", JSON.stringify({ ...start, Action: "exec_start: sh" }))?.action).toBe("other");
  });

  it("skips events about other objects, and refuses what is not an event", () => {
    expect(parseEngineEvent("docker", JSON.stringify({ ...start, Type: "network" }))).toBeUndefined();
    expect(() => parseEngineEvent("docker", "<html>")).toThrow(/not JSON/);
    expect(() => parseEngineEvent("docker", JSON.stringify({ Type: "container" }))).toThrow(/no container id or action/);
  });
});
