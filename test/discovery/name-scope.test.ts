/**
 * A bare container name is looked up in every runtime present; when none
 * has it, the error says what each runtime answered or where its socket
 * was looked for.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../src/errors.js";
import { resolveScope } from "../../src/discovery/scope.js";
import { probec } from "../support/cli.js";
import { ensureDockerd, importBinariesImage, removeContainers, runContainer } from "../support/dockerd.js";

const NAME = "probec-name-scope";
let host: string;
const nowhere = { podman: { host: "unix:///nonexistent/podman.sock" }, containerd: { address: "/nonexistent/containerd.sock" } };

beforeAll(async () => {
  host = await ensureDockerd();
  runContainer(importBinariesImage("probec-test-sleep"), NAME, ["/usr/bin/sleep", "600"]);
}, 120_000);

afterAll(() => removeContainers(NAME));

describe("a bare name", () => {
  it("is found in the runtime that has it", async () => {
    const scope = await resolveScope({ kind: "name", name: NAME }, { docker: { host }, ...nowhere });
    expect(scope.runtime).toBe("docker");
    expect(scope.containerName).toBe(NAME);
    expect(scope.processes.map((p) => p.comm)).toEqual(["sleep"]);
  });

  it("that no runtime has is an error listing each runtime tried and where", async () => {
    const error = await resolveScope({ kind: "name", name: "probec-name-nope" }, { docker: { host }, ...nowhere }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toBe(
      'no running container is called "probec-name-nope"; tried docker (no such container), podman (no socket at /nonexistent/podman.sock), containerd (no socket at /nonexistent/containerd.sock)',
    );
    expect((error as NotFoundError).hints).toContain(`docker: did you mean "${NAME}"?`);
  });
});

describe("probec resolve with no scope", () => {
  it("lists every running container, named by the runtime that has it", async () => {
    const old = process.env["DOCKER_HOST"];
    process.env["DOCKER_HOST"] = host;
    try {
      const r = await probec("resolve", "--json");
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout) as { runtime: string; id: string; name: string | null; pids: number[]; nsPid: number[][] }[];
      const mine = rows.find((row) => row.name === NAME);
      expect(mine?.runtime).toBe("docker");
      expect(mine?.id).toMatch(/^[0-9a-f]{64}$/);
      expect(mine?.pids.length).toBe(1);
      expect(mine?.nsPid[0]).toEqual([mine?.pids[0], 1]);
      const table = await probec("resolve");
      expect(table.stdout.split("\n")[0]).toMatch(/^RUNTIME +CONTAINER +NAME +PIDS$/);
      expect(table.stdout).toMatch(new RegExp(`^docker +${mine?.id.slice(0, 12)} +${NAME} +${mine?.pids[0]}$`, "m"));
    } finally {
      if (old === undefined) delete process.env["DOCKER_HOST"];
      else process.env["DOCKER_HOST"] = old;
    }
  });
});
