// The pure halves of the Docker client: DOCKER_HOST parsing and reference
// resolution, over stubbed container lists (a real daemon cannot be made to
// hand out two ids with a common 4-digit prefix).
import { describe, expect, it } from "vitest";
import { AmbiguousError, UsageError } from "../../../src/errors.js";
import { DEFAULT_DOCKER_SOCKET, dockerSocketPath, resolveContainerRef, type ContainerSummary } from "../../../src/discovery/runtimes/docker.js";

function container(id: string, name: string): ContainerSummary {
  return { id: id.padEnd(64, "0"), names: [name], image: "img", state: "running", labels: {} };
}

const web = container("abcd1234", "web");
const worker = container("abcd5678", "worker");
const db = container("ef01", "db");
// A container whose name looks like a prefix of another's id.
const tricky = container("9999", "ef01");
const all = [web, worker, db, tricky];

describe("dockerSocketPath", () => {
  it("reads unix:// addresses and defaults like the Docker CLI", () => {
    expect(dockerSocketPath("unix:///run/x.sock")).toBe("/run/x.sock");
    expect(dockerSocketPath("")).toBe(DEFAULT_DOCKER_SOCKET);
    expect(dockerSocketPath(undefined)).toBe(DEFAULT_DOCKER_SOCKET);
  });

  it("refuses tcp:// and other transports, saying only unix sockets are supported", () => {
    expect(() => dockerSocketPath("tcp://10.0.0.1:2376")).toThrow(UsageError);
    expect(() => dockerSocketPath("tcp://10.0.0.1:2376")).toThrow("DOCKER_HOST=tcp://10.0.0.1:2376: uses tcp://; only unix sockets are supported");
    expect(() => dockerSocketPath("ssh://me@host")).toThrow("uses ssh://");
    expect(() => dockerSocketPath("/var/run/docker.sock")).toThrow("is not a unix:// address");
  });
});

describe("resolveContainerRef", () => {
  it("takes a full id, a name with or without its slash, or a unique prefix", () => {
    expect(resolveContainerRef(web.id, all)).toBe(web);
    expect(resolveContainerRef("worker", all)).toBe(worker);
    expect(resolveContainerRef("/worker", all)).toBe(worker);
    expect(resolveContainerRef("abcd12", all)).toBe(web);
    expect(resolveContainerRef("nothing", all)).toBeUndefined();
    expect(resolveContainerRef("ffff", all)).toBeUndefined();
  });

  it("prefers an exact name to an id prefix, as docker does", () => {
    expect(resolveContainerRef("ef01", all)).toBe(tricky);
  });

  it("lists every container an ambiguous prefix matches", () => {
    const error = (() => {
      try {
        resolveContainerRef("abcd", all);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AmbiguousError);
    expect((error as AmbiguousError).message).toBe('docker: id prefix "abcd" matches 2 containers: abcd12340000 (web), abcd56780000 (worker)');
    expect((error as AmbiguousError).hints).toEqual(["give more digits of the id, or the name"]);
  });

  it("refuses a prefix shorter than 4 digits that matches something", () => {
    expect(() => resolveContainerRef("abc", all)).toThrow(UsageError);
    expect(() => resolveContainerRef("abc", all)).toThrow('id prefix "abc" is too short; give at least 4 hex digits');
    // One that matches nothing is simply not found.
    expect(resolveContainerRef("fff", all)).toBeUndefined();
  });
});
