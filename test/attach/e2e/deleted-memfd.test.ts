/**
 * Issue 5, end-to-end test 5 (PITFALLS 18): a library copied to /tmp,
 * dlopened and deleted (what libstapsdt does), and one dlopened from a
 * memfd: their USDT probes fire.
 *
 * Two containers run dl_app on the image's libprobec_dl.so: one loads a
 * copy it deletes at once (its maps say `/tmp/libprobec_dl-XXXXXX.so
 * (deleted)`), the other a memfd named libprobec_dl.so (`/memfd:
 * libprobec_dl.so (deleted)`). Neither file has a path any more: the only
 * way to the code they run is their mappings, the `map` strategy
 * (/proc/<pid>/map_files/<range>). The deleted copy is named by its old
 * path, the memfd library by the name it was given. Each round calls
 * dl_fire CALLS times; every call must be one event with its tag and text.
 */
import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const CALLS = 6;
const targets = new Targets();
let env: E2e;

beforeAll(async () => {
  env = await e2eSetup();
}, 120_000);

afterAll(() => targets.cleanup());

/** Attaches `source`, runs one round, and checks the CALLS events of probe1 against the round's tags and texts. */
async function fires(app: Target, mode: string, source: string): Promise<void> {
  const plan = await compilePlan(`dl-${mode}`, source, { docker: { host: env.host } });
  const entry = plan.probes[0]!;
  expect(entry.strategy).toBe("map");
  expect(entry.binary.replaced).toBe(true);
  expect(entry.binary.kernelPath).toMatch(new RegExp(`^/proc/${app.pid}/map_files/[0-9a-f]+-[0-9a-f]+$`));
  expect(entry.binary.size).toBe(statSync(env.fixtures.path("libprobec_dl.so")).size);

  const trace = await Trace.start(plan);
  try {
    expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
    expect(await app.round()).toEqual([`round 1 calls ${CALLS}`]);
    await trace.waitForEvents("probe1", CALLS);
  } finally {
    await trace.close();
  }
  const tags = [...Array(CALLS).keys()].map((i) => 1000 + i);
  expect(trace.of("probe1").map((e) => e.fields)).toEqual(tags.map((tag) => ({ tag: BigInt(tag), text: `${mode}-${tag}` })));
  for (const e of trace.of("probe1")) expect(e).toMatchObject({ pid: app.pid, comm: "dl_app", side: "entry" });
}

const BODY = `{
  option strategy = map
  tag = arg0 as i32
  text = str(arg1, 32)
}`;

describe("USDT in a library without a file", () => {
  test("a copy in /tmp, dlopened and deleted: named by its old path", async () => {
    const name = "probec-attach-dl-deleted";
    const app = await targets.container(env.image, name, "dl_app", ["deleted", "/usr/lib/libprobec_dl.so", String(CALLS)]);
    const loaded = (await app.status.waitFor(/^loaded (\/tmp\/libprobec_dl-\w{6}\.so)$/, "the copy's path"))[1]!;
    expect(() => statSync(`/proc/${app.pid}/root${loaded}`)).toThrow();
    await fires(app, "deleted", `usdt docker/${name}:${loaded}:probec_dl:fire ${BODY}\n`);
  });

  test("a memfd, dlopened through /proc/self/fd/N: named by the memfd's name", async () => {
    const name = "probec-attach-dl-memfd";
    const app = await targets.container(env.image, name, "dl_app", ["memfd", "/usr/lib/libprobec_dl.so", String(CALLS)]);
    await app.status.waitFor(/^loaded \/proc\/self\/fd\/\d+$/, "the memfd's path");
    await fires(app, "memfd", `usdt docker/${name}:libprobec_dl:probec_dl:fire ${BODY}\n`);
  });
});
