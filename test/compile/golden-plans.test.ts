/**
 * Golden AttachPlans (issue 4, "compile golden plans for host fixtures and
 * for real docker containers"): `compile()` of small probe files, written
 * to a tmp dir from the templates below, compared with
 * test/compile/golden/<name>.json.
 *
 *     UPDATE_GOLDEN=1 npx vitest run test/compile/golden-plans.test.ts    # rewrite them
 *
 * (a) host fixtures with `--strategy host`: USDT with semaphores
 *     (usdt_sema:sema:*), a versioned function as uprobe+ret
 *     (libver.so:vfunc), per-site semaphores (usdt_persite:persite:fire);
 * (b) a real container on the tests' dockerd (test/support/dockerd.ts):
 *     `uprobe+ret docker/probec-golden-c:libc:getaddrinfo` with a filter
 *     and a str() field, with the strategies root, map and layer.
 *
 * Every plan is validated against schema/attach-plan.schema.json as
 * compile() returned it; only then is it normalised ({@link normalise}) and
 * compared or written.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile/compile.js";
import type { AttachPlan, PathStrategy } from "../../src/compile/plan.js";
import { findSymbol } from "../../src/index.js";
import { FileSource } from "../../src/io/file-source.js";
import { ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_DATA_ROOT } from "../support/dockerd.js";

/** The repo root, without the trailing slash. */
const REPO = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const BIN = join(REPO, "fixtures/elf/bin");
const GOLDEN = join(REPO, "test/compile/golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const schema = JSON.parse(readFileSync(join(REPO, "schema/attach-plan.schema.json"), "utf8")) as object;
const validatePlan = new Ajv2020({ allErrors: true, strict: true }).compile<AttachPlan>(schema);

/**
 * Makes a plan comparable across machines and runs. Rules, in order:
 *
 * - strings: the repo's absolute path → `<repo>`; `/proc/123/` → `/proc/<pid>/`;
 *   `/proc/<pid>/map_files/7f…-7f…` → `/proc/<pid>/map_files/<range>`;
 *   the test daemon's data root → `<docker-root>`, then an overlay2 layer
 *   directory (`overlay2/<hash>/` or its short link `overlay2/l/<ID>/`) →
 *   `overlay2/<layer>/` (or `overlay2/l/<layer>/`); any 64-hex container id → `<container-id>`;
 * - keys: `pid`, every entry of `pids`, the first (host) entry of `nsPid`
 *   → `"<pid>"` (the inner namespace pids are kept: 1 is the container's
 *   init); `mntNs`, `pidNs` → `"<ns>"` (0, the host's "no namespace", is
 *   kept); `dev`, `ino`, `mtimeNs` → `"<dev>"`, `"<ino>"`, `"<mtimeNs>"`;
 *   `containerName` → `"<container-name>"`; `cgroupPaths` → `["<cgroup>"…]`
 *   (their form depends on the cgroup driver and version);
 * - with `libc` (the docker goldens only): the container's libc is a copy
 *   of the host's, so its `buildId`, `size`, and each point's `fileOffset`
 *   and site `address`/`size` → `"<libc>"`. The test checks those values
 *   separately (same in every strategy, equal to findSymbol on the file).
 *
 * Everything else (kinds, cookies, pairing, semaphores, programs, filters'
 * shape, paths inside the container) is compared exactly.
 */
export function normalise(plan: unknown, options: { libc?: boolean } = {}): unknown {
  const str = (s: string): string =>
    s
      .split(REPO)
      .join("<repo>")
      .replace(/\/proc\/\d+\//g, "/proc/<pid>/")
      .replace(/\/map_files\/[0-9a-f]+-[0-9a-f]+/g, "/map_files/<range>")
      .split(`${TEST_DOCKER_DATA_ROOT}/overlay2/`)
      .join("<docker-root>/overlay2/")
      .replace(/\/overlay2\/l\/[0-9A-Z]+\//g, "/overlay2/l/<layer>/")
      .replace(/\/overlay2\/[0-9a-z]{2,}(-init)?\//g, "/overlay2/<layer>/")
      .replace(/\b[0-9a-f]{64}\b/g, "<container-id>");
  const walk = (value: unknown, key: string | undefined, inPoint: boolean): unknown => {
    if (typeof value === "string") return str(value);
    if (Array.isArray(value)) {
      if (key === "pids") return value.map(() => "<pid>");
      if (key === "nsPid") return value.map((v, i) => (i === 0 ? "<pid>" : v));
      if (key === "cgroupPaths") return value.map(() => "<cgroup>");
      return value.map((v) => walk(v, undefined, inPoint || key === "points"));
    }
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (k === "pid" && typeof v === "number") out[k] = "<pid>";
        else if ((k === "mntNs" || k === "pidNs") && v !== 0) out[k] = "<ns>";
        else if (k === "dev" || k === "ino" || k === "mtimeNs") out[k] = `<${k}>`;
        else if (k === "containerName" && v !== null) out[k] = "<container-name>";
        else if (options.libc === true && (k === "buildId" || k === "size" || (inPoint && (k === "fileOffset" || k === "address")))) out[k] = "<libc>";
        else out[k] = walk(v, k, inPoint);
      }
      return out;
    }
    return value;
  };
  return walk(plan, undefined, false);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "probec-golden-plans-"));
  mkdirSync(GOLDEN, { recursive: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `source` as `<name>.probe` in the tmp dir and compiles it from there; fails on any diagnostic. */
async function compileFile(name: string, source: string, options: Parameters<typeof compile>[1] = {}): Promise<AttachPlan> {
  const path = join(dir, `${name}.probe`);
  writeFileSync(path, source);
  const { plan, diagnostics } = await compile(readFileSync(path, "utf8"), { ...options, file: `${name}.probe` });
  expect(diagnostics).toEqual([]);
  expect(plan).toBeDefined();
  const ok = validatePlan(plan);
  expect(validatePlan.errors ?? [], JSON.stringify(validatePlan.errors, null, 2)).toEqual([]);
  expect(ok).toBe(true);
  return plan!;
}

/** Compares (or, with UPDATE_GOLDEN=1, writes) test/compile/golden/<name>.json. */
function golden(name: string, normalised: unknown): void {
  const file = join(GOLDEN, `${name}.json`);
  const text = `${JSON.stringify(normalised, null, 2)}\n`;
  if (UPDATE) {
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`no golden ${file}: run UPDATE_GOLDEN=1 npx vitest run test/compile/golden-plans.test.ts`);
  expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(file, "utf8")));
}

const HOST: { name: string; source: string }[] = [
  {
    name: "host-usdt-sema",
    source: `# USDT sites with semaphores: every sema:* site, each with its own refCtrOffset.
usdt host:${BIN}/usdt_sema:sema:* {
  where arg0 > 1
  v = arg0 as i32
  pid
  comm
}
`,
  },
  {
    name: "host-libver-vfunc",
    source: `# A versioned function (the default version), entry and return paired.
uprobe+ret host:${BIN}/libver.so:vfunc {
  a = arg0
  r = retval
  latency
  format "vfunc({a}) = {r} in {latency} ns"
}
`,
  },
  {
    name: "host-usdt-persite",
    source: `# One provider:name at several sites, each site keeping its own semaphore.
usdt host:${BIN}/usdt_persite:persite:fire {
  tid
  timestamp
}
`,
  },
];

describe("golden plans: host fixtures (--strategy host)", () => {
  for (const { name, source } of HOST) {
    it(name, async () => {
      const plan = await compileFile(name, source, { strategy: "host" });
      for (const probe of plan.probes) expect(probe.binary.kernelPath.startsWith(BIN)).toBe(true);
      golden(name, normalise(plan));
    });
  }
});

const CONTAINER = "probec-golden-c";
const IMAGE = "probec-golden-c";
const DOCKER_SOURCE = `# Failed getaddrinfo calls in one container, with the host name asked for.
uprobe+ret docker/${CONTAINER}:libc:getaddrinfo {
  where retval != 0 && pid % 2 == 0
  host = str(arg0, 64)
  rc = retval as i32
  latency
  container
}
`;

describe("golden plans: a real docker container", () => {
  let host: string;
  const plans = new Map<PathStrategy, AttachPlan>();
  beforeAll(async () => {
    host = await ensureDockerd();
    importBinariesImage(IMAGE, ["/usr/bin/sleep"]);
    runContainer(IMAGE, CONTAINER, ["/usr/bin/sleep", "600"]);
  }, 120_000);
  afterAll(() => removeContainers(CONTAINER));

  for (const strategy of ["root", "map", "layer"] as const) {
    it(`docker getaddrinfo, strategy ${strategy}`, async () => {
      const plan = await compileFile(`docker-getaddrinfo-${strategy}`, DOCKER_SOURCE, { strategy, docker: { host } });
      plans.set(strategy, plan);
      const [probe] = plan.probes;
      expect(probe?.filter?.kind).toBe("container");
      golden(`docker-getaddrinfo-${strategy}`, normalise(plan, { libc: true }));
    });
  }

  it("the libc values the goldens mask agree across strategies and with findSymbol", async () => {
    const root = plans.get("root");
    expect(root, "the root-strategy test ran").toBeDefined();
    const probe = root!.probes[0]!;
    const found = await findSymbol(FileSource.open(probe.binary.kernelPath), "getaddrinfo");
    for (const point of probe.points) expect(point.fileOffset).toBe(found.fileOffset);
    for (const plan of plans.values()) {
      const other = plan.probes[0]!;
      expect(other.binary.buildId).toBe(probe.binary.buildId);
      expect(other.binary.size).toBe(probe.binary.size);
      expect(other.points.map((p) => [p.fileOffset, p.site])).toEqual(probe.points.map((p) => [p.fileOffset, p.site]));
    }
  });
});
