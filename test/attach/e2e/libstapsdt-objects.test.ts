/**
 * Issue 10, part 2 (PITFALLS 32): USDT probes in the objects libstapsdt
 * makes, named the ways a user can write them, firing for real.
 *
 * libstapsdt is not packaged by Debian, so a C stand-in does what it does
 * (test/attach/fixtures/salp_demo.c with libsalp_demo.so, provider
 * salp-demo, p1(int, string, string)): it loads the provider's library
 * from a memfd named `libstapsdt:salp-demo` (maps: `/memfd:libstapsdt:
 * salp-demo (deleted)`), or from `/tmp/salp-demo-XXXXXX.so`, deleted at
 * once, and can load it several times. The stand-ins run on the host as
 * `pid/N`.
 *
 *  - the quoted memfd path and the quoted `memfd:NAME` each reach the one
 *    memfd; with two memfds of that name they are an ambiguity listing both;
 *  - a quoted glob (`"memfd:libstapsdt:*"`, `"/tmp/salp-demo-*.so"`) gives
 *    one plan entry per mapped object, and every copy's calls are events.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile } from "../../../src/index.js";
import { probec } from "../../support/cli.js";
import { buildFixtures, type Fixtures } from "./support/fixtures.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";

const CALLS = 4;
const targets = new Targets();
let fixtures: Fixtures;

beforeAll(() => {
  fixtures = buildFixtures();
}, 120_000);

afterAll(() => targets.cleanup());

function standIn(mode: "memfd" | "tmp", copies: number): Promise<Target> {
  return targets.host(fixtures.path("salp_demo"), [mode, fixtures.path("libsalp_demo.so"), String(CALLS), String(copies)]);
}

/** p1's three arguments, counted from 0 as probec counts them: an int and two strings. */
const BODY = `{
  option strategy = map
  n = arg0 as i32
  first = str(arg1)
  second = str(arg2, 32)
}`;

/** The fields of one round's calls on one copy. */
function expected(round: number): { n: bigint; first: string; second: string }[] {
  return [...Array(CALLS).keys()].map((i) => ({ n: BigInt(round * 1000 + i), first: `first-${round * 1000 + i}`, second: `second-${round * 1000 + i}` }));
}

/** Attaches `plan`, runs one round, and returns the events' fields sorted by n. */
async function oneRound(app: Target, source: string, copies: number): Promise<{ entries: number; fields: Record<string, unknown>[] }> {
  const plan = await compilePlan("salp", source);
  const trace = await Trace.start(plan);
  try {
    expect(await trace.attachment.ready).toMatchObject({ attached: plan.probes.length, failed: 0 });
    expect(await app.round()).toEqual([`round 1 calls ${CALLS}`]);
    await trace.waitForEvents("probe1", CALLS * copies);
  } finally {
    await trace.close();
  }
  for (const e of trace.of("probe1")) expect(e).toMatchObject({ pid: app.pid, comm: "salp_demo" });
  const fields = trace
    .of("probe1")
    .map((e) => e.fields)
    .sort((a, b) => Number((a.n as bigint) - (b.n as bigint)));
  return { entries: plan.probes.length, fields };
}

describe("one provider in a memfd named libstapsdt:salp-demo", () => {
  let app: Target;
  beforeAll(async () => {
    app = await standIn("memfd", 1);
  });

  test('pid/N:"/memfd:libstapsdt:salp-demo":salp-demo:p1 fires with its int and two strings', async () => {
    const { entries, fields } = await oneRound(app, `usdt pid/${app.pid}:"/memfd:libstapsdt:salp-demo":salp-demo:p1 ${BODY}\n`, 1);
    expect(entries).toBe(1);
    expect(fields).toEqual(expected(1));
  });

  test('pid/N:"memfd:libstapsdt:salp-demo" names the same memfd by the name libstapsdt gave it', async () => {
    const plan = await compilePlan("salp-name", `usdt pid/${app.pid}:"memfd:libstapsdt:salp-demo":salp-demo:p1 ${BODY}\n`);
    expect(plan.probes.map((p) => [p.binary.containerPath, p.binary.mapped, p.binary.replaced, p.strategy])).toEqual([
      ["/memfd:libstapsdt:salp-demo", true, true, "map"],
    ]);
    expect(plan.probes[0]!.binary.kernelPath).toMatch(new RegExp(`^/proc/${app.pid}/map_files/[0-9a-f]+-[0-9a-f]+$`));
  });

  test("probec list: the quoted memfd name lists p1; the unquoted one is one line saying to quote it, exit 2", async () => {
    const listed = await probec("list", `pid/${app.pid}:"memfd:libstapsdt:salp-demo"`);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^salp-demo:p1 +0x[0-9a-f]+ +0x[0-9a-f]+ +- +-4@%edi 8@%rsi 8@%rdx$/m);
    const unquoted = await probec("list", `pid/${app.pid}:memfd:libstapsdt:salp-demo`);
    expect(unquoted.code).toBe(2);
    expect(unquoted.stderr).toBe(
      `probec: target "pid/${app.pid}:memfd:libstapsdt:salp-demo": the object is "memfd", cut at its ':'\n  hint: quote a memfd's name, which holds ':': SCOPE:"memfd:NAME":LOCATION\n`,
    );
  });

  test("the unquoted memfd:NAME is cut at its ':' and says to quote it", async () => {
    const { diagnostics } = await compile(`usdt pid/${app.pid}:memfd:libstapsdt:salp-demo:p1 ${BODY}\n`, { file: "t.probe" });
    expect(diagnostics.map((d) => [d.severity, d.message, d.hints])).toEqual([
      [
        "error",
        `target "pid/${app.pid}:memfd:libstapsdt:salp-demo:p1": the object is "memfd", cut at its ':'`,
        [`quote a memfd's name, which holds ':': SCOPE:"memfd:NAME":LOCATION`],
      ],
    ]);
  });
});

describe("two providers of one name", () => {
  test('in two memfds: "memfd:libstapsdt:*" is one entry per memfd; the exact name is an ambiguity listing both', async () => {
    const app = await standIn("memfd", 2);
    const { entries, fields } = await oneRound(app, `usdt pid/${app.pid}:"memfd:libstapsdt:*":salp-demo:p1 ${BODY}\n`, 2);
    expect(entries).toBe(2);
    expect(fields).toEqual(expected(1).flatMap((f) => [f, f]));

    // probec list names each object's file on its rows.
    const listed = await probec("list", `pid/${app.pid}:"memfd:libstapsdt:*"`);
    expect(listed.code).toBe(0);
    expect(listed.stdout.match(new RegExp(`^pid/${app.pid}:/memfd:libstapsdt:salp-demo +salp-demo:p1 `, "gm"))).toHaveLength(2);

    const { diagnostics } = await compile(`usdt pid/${app.pid}:"memfd:libstapsdt:salp-demo":salp-demo:p1 ${BODY}\n`, { file: "t.probe" });
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.message).toMatch(
      /^process \d+: object "memfd:libstapsdt:salp-demo": 2 memfds have that name: \/memfd:libstapsdt:salp-demo \(inode \d+, \/proc\/\d+\/map_files\/[0-9a-f-]+\), \/memfd:libstapsdt:salp-demo \(inode \d+, /,
    );
  });

  test('in two deleted /tmp/salp-demo-XXXXXX.so files: "/tmp/salp-demo-*.so" is one entry per file', async () => {
    const app = await standIn("tmp", 2);
    const loaded = app.status
      .lines()
      .filter((l) => l.startsWith("loaded "))
      .map((l) => l.slice("loaded ".length));
    expect(loaded).toHaveLength(2);
    const { entries, fields } = await oneRound(app, `usdt pid/${app.pid}:"/tmp/salp-demo-*.so":salp-demo:p1 ${BODY}\n`, 2);
    expect(entries).toBe(2);
    expect(fields).toEqual(expected(1).flatMap((f) => [f, f]));
    const plan = await compilePlan("salp-tmp", `usdt pid/${app.pid}:"/tmp/salp-demo-*.so":salp-demo:p1 ${BODY}\n`);
    expect(plan.probes.map((p) => p.binary.containerPath).sort()).toEqual([...loaded].sort());
  });

  test("a glob that matches no mapped object names the target and says how to list them", async () => {
    const app = await standIn("tmp", 1);
    const { diagnostics } = await compile(`usdt pid/${app.pid}:"/tmp/nosuch-*.so":salp-demo:p1 ${BODY}\n`, { file: "t.probe" });
    expect(diagnostics.map((d) => d.message)).toEqual([
      `target "pid/${app.pid}:"/tmp/nosuch-*.so":salp-demo:p1": no object the scope's processes map matches "/tmp/nosuch-*.so"`,
    ]);
  });
});
