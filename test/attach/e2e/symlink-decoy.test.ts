/**
 * Issue 5, end-to-end test 7: an absolute symlink with a host decoy: the
 * container's file is probed.
 *
 * In the image, /usr/lib/libx.so -> /opt/probec-real/libx.so, an absolute
 * link: inside the container it names the container's own file. The host
 * gets a decoy at that same path, /opt/probec-real/libx.so, built from the
 * same source with -DDECOY (x_value returns 9000 + i instead of 7000 + i,
 * and sits at another offset). Anything that follows the link in the host's
 * root (the kernel does, for /proc/<pid>/root/usr/lib/libx.so) probes the
 * decoy, which nothing runs: no events. The probe names the link's path;
 * with the `fd` strategy (openat2 RESOLVE_IN_ROOT in the helper) and the
 * `root` strategy (resolved by the compiler) the plan's binary must be the
 * container's file, and every call of x_app must come back as an event
 * with 7000 + i.
 */
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REAL_LIBX_DIR } from "./support/image.js";
import { e2eSetup, type E2e } from "./support/setup.js";
import { Targets, type Target } from "./support/targets.js";
import { compilePlan, Trace } from "./support/trace.js";
import { findSymbol } from "../../../src/index.js";

const NAME = "probec-attach-symlink";
const CALLS = 8;
const DECOY = `${REAL_LIBX_DIR}/libx.so`;
const targets = new Targets();
let env: E2e;
let app: Target;

beforeAll(async () => {
  env = await e2eSetup();
  mkdirSync(REAL_LIBX_DIR, { recursive: true });
  copyFileSync(env.fixtures.path("libx-decoy.so"), DECOY);
  app = await targets.container(env.image, NAME, "x_app", [String(CALLS)]);
}, 120_000);

afterAll(async () => {
  await targets.cleanup();
  rmSync(REAL_LIBX_DIR, { recursive: true, force: true });
});

for (const strategy of ["fd", "root"] as const) {
  test(`strategy ${strategy}: the container's /opt/probec-real/libx.so is probed, not the host's decoy`, async () => {
    const real = statSync(`/proc/${app.pid}/root${REAL_LIBX_DIR}/libx.so`);
    const decoy = statSync(DECOY);
    expect(real.ino).not.toBe(decoy.ino);
    // The trap is real: resolved from the host, the container's link lands on the decoy.
    expect(statSync(`/proc/${app.pid}/root/usr/lib/libx.so`).ino).toBe(decoy.ino);
    const realOffset = (await findSymbol(env.fixtures.path("libx.so"), "x_value")).fileOffset;
    expect((await findSymbol(DECOY, "x_value")).fileOffset).not.toBe(realOffset);

    const plan = await compilePlan(
      `symlink-${strategy}`,
      `uretprobe docker/${NAME}:/usr/lib/libx.so:x_value {\n  option strategy = ${strategy}\n  v = retval as i32\n}\n`,
      {
        docker: { host: env.host },
      },
    );
    const binary = plan.probes[0]!.binary;
    expect(binary.ino).toBe(String(real.ino));
    expect(binary.size).toBe(real.size);
    expect(plan.probes[0]!.points.map((p) => p.fileOffset)).toEqual([realOffset]);
    if (strategy === "fd") expect([binary.kernelPath, binary.openRoot]).toEqual([`${REAL_LIBX_DIR}/libx.so`, `/proc/${app.pid}/root`]);
    else expect(binary.kernelPath).toBe(`/proc/${app.pid}/root${REAL_LIBX_DIR}/libx.so`);

    const trace = await Trace.start(plan);
    try {
      expect(await trace.attachment.ready).toEqual({ attached: 1, failed: 0, points: 1 });
      const [line] = await app.round();
      expect(line).toMatch(new RegExp(`^round \\d+ calls ${CALLS} last ${7000 + CALLS - 1}$`));
      await trace.waitForEvents("probe1", CALLS);
    } finally {
      await trace.close();
    }
    expect(trace.of("probe1").map((e) => e.fields.v)).toEqual([...Array(CALLS).keys()].map((i) => BigInt(7000 + i)));
    for (const e of trace.of("probe1")) expect(e).toMatchObject({ pid: app.pid, comm: "x_app", container: NAME });
  });
}
