// containerd/[NAMESPACE/]SELECTOR scopes (issue 14) against the tests' own
// containerd (test/support/containerd.ts), containers made with `ctr run
// --label`: the selector reads containerd's container labels, in one
// namespace or in every one, and resolves each picked container's processes.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { taskPid } from "../../../src/discovery/runtimes/containerd.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { selectContainers } from "../../../src/discovery/select.js";
import { parseTargetSpec, type SelectorScope } from "../../../src/dsl/target-spec.js";
import { ctr, ensureContainerd, removeCtrContainer, TEST_CONTAINERD_SOCKET } from "../../support/containerd.js";
import { docker, ensureDockerd, importBinariesImage } from "../../support/dockerd.js";

const NS = "probec-sel-ctr";
const IMAGE = "docker.io/library/probec-ctr-sleep:latest";
const IDS = { web1: "probec-sel-web-1", web2: "probec-sel-web-2", db: "probec-sel-db" };
const options = { containerd: { address: TEST_CONTAINERD_SOCKET }, docker: { host: "unix:///run/probec-no-such-docker.sock" } };

function scope(text: string): SelectorScope {
  const s = parseTargetSpec(text).scope;
  if (s.kind !== "select") throw new Error(`${text} is not a selector scope`);
  return s;
}

beforeAll(async () => {
  await Promise.all([ensureDockerd(), ensureContainerd()]);
  if (!ctr(["-n", NS, "images", "ls", "-q"]).split("\n").includes(IMAGE)) {
    importBinariesImage("probec-ctr-sleep");
    const tar = join(tmpdir(), `probec-sel-ctr-${process.pid}.tar`);
    try {
      docker(["save", "-o", tar, "probec-ctr-sleep:latest"]);
      ctr(["-n", NS, "images", "import", tar]);
    } finally {
      rmSync(tar, { force: true });
    }
  }
  for (const [id, app] of [
    [IDS.web1, "web"],
    [IDS.web2, "web"],
    [IDS.db, "db"],
  ] as const) {
    removeCtrContainer(NS, id);
    ctr(["-n", NS, "run", "-d", "--label", `app=${app}`, "--label", "probec.test=selectors", IMAGE, id, "/usr/bin/sleep", "600"]);
  }
}, 120_000);

afterAll(() => {
  for (const id of Object.values(IDS)) removeCtrContainer(NS, id);
});

it("containerd/NS/app=web picks the two web containers of that namespace, with their processes", async () => {
  const picked = await selectContainers(scope(`containerd/${NS}/app=web`), options);
  expect(picked.map((c) => [c.runtime, c.runtimeNamespace, c.id])).toEqual([
    ["containerd", NS, IDS.web1],
    ["containerd", NS, IDS.web2],
  ]);
  const resolved = await resolveScope(scope(`containerd/${NS}/app=web`), options);
  const pids = await Promise.all([IDS.web1, IDS.web2].map((id) => taskPid(NS, id, options.containerd)));
  expect(resolved.containers?.map((c) => c.processes.map((p) => p.pid))).toEqual(pids.map((p) => [p]));
});

it("containerd/SELECTOR looks in every namespace", async () => {
  const picked = await selectContainers(scope('containerd/"probec.test=selectors,app notin (web)"'), options);
  expect(picked.map((c) => `${c.runtimeNamespace}/${c.id}`)).toEqual([`${NS}/${IDS.db}`]);
});

it("a selector that matches nothing names the labels there are, in that namespace", async () => {
  const error = await selectContainers(scope(`containerd/${NS}/app=cache`), options).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  expect((error as NotFoundError).message).toBe(`containerd/${NS}/app=cache: no running containerd container in namespace "${NS}" matches "app=cache"`);
  expect((error as NotFoundError).hints).toEqual([
    // ctr run adds the image config's stop signal as a label.
    "labels of the 3 running: app=db, app=web, io.containerd.image.config.stop-signal=SIGTERM, probec.test=selectors",
  ]);
});
