// podman/SELECTOR scopes (issue 14) against the tests' own Podman API service
// (test/support/podman.ts): container labels through Podman's
// Docker-compatible API, as for docker/SELECTOR.
import { afterAll, beforeAll, expect, test } from "vitest";
import { NotFoundError } from "../../../src/errors.js";
import { resolveScope } from "../../../src/discovery/scope.js";
import { selectContainers } from "../../../src/discovery/select.js";
import { parseTargetSpec, type SelectorScope } from "../../../src/dsl/target-spec.js";
import { ensurePodmanService, importPodmanImage, podman, removePodmanContainers, runPodmanContainer } from "../../support/podman.js";

const IMAGE = "probec-podman-sel-sleep";
const WEB = ["probec-psel-web-1", "probec-psel-web-2"];
const DB = "probec-psel-db";
let options: { podman: { host: string } };

function scope(text: string): SelectorScope {
  const s = parseTargetSpec(text).scope;
  if (s.kind !== "select") throw new Error(`${text} is not a selector scope`);
  return s;
}

beforeAll(async () => {
  options = { podman: { host: await ensurePodmanService() } };
  importPodmanImage(IMAGE);
  for (const name of WEB) runPodmanContainer(IMAGE, name, ["/usr/bin/sleep", "600"], ["--label", "app=web", "--label", "probec.test=podman-selectors"]);
  runPodmanContainer(IMAGE, DB, ["/usr/bin/sleep", "600"], ["--label", "app=db", "--label", "probec.test=podman-selectors"]);
}, 120_000);

afterAll(() => removePodmanContainers(...WEB, DB));

test("podman/SELECTOR picks by container labels and resolves each container's processes", async () => {
  const text = 'podman/"app=web,probec.test=podman-selectors"';
  expect((await selectContainers(scope(text), options)).map((c) => [c.runtime, c.name])).toEqual(WEB.map((n) => ["podman", n]));
  const resolved = await resolveScope(scope(text), options);
  const pids = WEB.map((n) => Number(podman(["inspect", "--format", "{{.State.Pid}}", n])));
  expect(resolved.containers?.map((c) => c.processes.map((p) => p.pid))).toEqual(pids.map((p) => [p]));
  expect((await selectContainers(scope("podman/probec.test=podman-selectors,app!=web"), options)).map((c) => c.name)).toEqual([DB]);
});

test("a podman selector that matches nothing is a NotFoundError naming the labels", async () => {
  const error = await selectContainers(scope("podman/probec.test=none"), options).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  expect((error as NotFoundError).message).toBe('podman/probec.test=none: no running podman container matches "probec.test=none"');
  expect((error as NotFoundError).hints[0]).toMatch(/^labels of the \d+ running: .*app=web.*probec\.test=podman-selectors/);
});
