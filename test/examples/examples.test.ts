/**
 * Issue 10, part 3: every examples/*.probe compiles against the real
 * software it names, and where a call can be made on demand, fires there.
 *
 * The examples name container scopes (docker/pg, docker/web, …); this test
 * runs the software as host processes instead and aims each example's scope
 * at one through compile's `resolve` option (the file itself is compiled
 * unchanged: aliases, objects, locations, arguments and options as
 * written). What provides each:
 *
 *  - postgres-queries: Debian's postgresql-15 as a real server (postgres.ts),
 *    its probes in the backend of a psql session; `SELECT`s fire them;
 *  - zookeeper-zoo-set2: Debian's libzookeeper_mt.so.2 (libzookeeper-mt2),
 *    loaded by python3.11 through ctypes; zoo_set2 without a handle returns
 *    ZBADARGUMENTS (-8);
 *  - getaddrinfo-failures, malloc-count, python-calls: Debian's python3.11
 *    (python-calls: its own function probes) and its libc;
 *    getaddrinfo("127.0.0.1", an unknown service) fails with EAI_SERVICE
 *    without any network;
 *  - salp-usdt: a C stand-in for libstapsdt (not packaged by Debian):
 *    test/attach/fixtures/salp_demo.c loads libsalp_demo.so from a memfd
 *    named libstapsdt:salp-demo, as libstapsdt does.
 *
 * A new example without a provider here fails the first test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newResolutionCache, resolveTarget } from "../../src/discovery/resolve-target.js";
import type { AttachPlan } from "../../src/index.js";
import { buildFixtures } from "../attach/e2e/support/fixtures.js";
import { Targets, type Target } from "../attach/e2e/support/targets.js";
import { compilePlan, Trace } from "../attach/e2e/support/trace.js";
import { POSTGRES, Postgres } from "./postgres.js";

const EXAMPLES = readdirSync("examples")
  .filter((f) => f.endsWith(".probe"))
  .sort();
const PYTHON = "/usr/bin/python3.11";
const LIBZOOKEEPER = "/usr/lib/x86_64-linux-gnu/libzookeeper_mt.so.2.0.0";
const CALLS = 4;

/** A python3.11 that loads libzookeeper_mt and, per line `zoo N` or `gai N`, makes N calls and prints their return values. */
const PYTHON_APP = `
import ctypes, socket, sys
zk = ctypes.CDLL("libzookeeper_mt.so.2")
zk.zoo_set2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
def gai():
    try:
        socket.getaddrinfo("127.0.0.1", "probec-no-such-service")
        return 0
    except socket.gaierror as e:
        return e.errno
print("ready", flush=True)
for line in sys.stdin:
    what, n = line.split()
    rcs = [zk.zoo_set2(None, b"/probec", b"v", 1, -1, None) if what == "zoo" else gai() for _ in range(int(n))]
    print(what, *rcs, flush=True)
`;

class PythonApp {
  private out = "";
  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (chunk: Buffer) => (this.out += chunk.toString()));
  }
  get pid(): number {
    return this.child.pid!;
  }
  static async start(): Promise<PythonApp> {
    const app = new PythonApp(spawn(PYTHON, ["-c", PYTHON_APP]));
    await app.line(/^ready$/m);
    return app;
  }
  /** Makes `n` calls of `what`; returns their return values. */
  async calls(what: "zoo" | "gai", n: number): Promise<number[]> {
    this.out = "";
    this.child.stdin.write(`${what} ${n}\n`);
    return (await this.line(new RegExp(`^${what} (.*)\n`, "m")))[1]!.split(" ").map(Number);
  }
  private async line(re: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 400; i++) {
      const m = re.exec(this.out);
      if (m !== null) return m;
      if (this.child.exitCode !== null) throw new Error(`${PYTHON} exited (${this.child.exitCode})`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`timed out waiting for ${re} from ${PYTHON}; it printed: ${this.out}`);
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }
}

let postgres: Postgres;
let python: PythonApp;
let salp: Target;
const targets = new Targets();

/** Per example: the scope it names, the process that provides it, and the files its plan entries must name. */
function providers(): Record<string, { scope: string; pid: number; files: string[] }> {
  return {
    "getaddrinfo-failures.probe": { scope: "docker/web", pid: python.pid, files: [libcOf(python.pid)] },
    "malloc-count.probe": { scope: "pid/1234", pid: python.pid, files: [libcOf(python.pid)] },
    "postgres-queries.probe": { scope: "docker/pg", pid: postgres.backendPid, files: [POSTGRES, POSTGRES] },
    // function__entry, and the entry that raises python:line's semaphore so that CPython 3.11 fires it.
    "python-calls.probe": { scope: "docker/app", pid: python.pid, files: [PYTHON, PYTHON] },
    "salp-usdt.probe": { scope: "docker/salp-demo", pid: salp.pid, files: ["/memfd:libstapsdt:salp-demo"] },
    "zookeeper-zoo-set2.probe": { scope: "docker/zookeeper", pid: python.pid, files: [LIBZOOKEEPER] },
  };
}

function libcOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .find((l) => / \/\S*\/libc\.so\.6$/.test(l));
  expect(line, `process ${pid} maps libc.so.6`).toBeDefined();
  return line!.slice(line!.indexOf("/"));
}

/** Compiles `examples/<name>` unchanged, its scope resolved as `pid/<provider>`. */
async function compileExample(name: string): Promise<AttachPlan> {
  const provider = providers()[name];
  expect(provider, `a provider for examples/${name} in this test`).toBeDefined();
  const { scope, pid } = provider!;
  const cache = newResolutionCache();
  const resolve = (text: string) => {
    expect(text.startsWith(`${scope}:`), `${text} is in scope ${scope}`).toBe(true);
    return resolveTarget(`pid/${pid}${text.slice(scope.length)}`, { cache });
  };
  return compilePlan(`examples/${name.replace(/\.probe$/, "")}`, readFileSync(`examples/${name}`, "utf8"), { resolve });
}

beforeAll(async () => {
  const fixtures = buildFixtures();
  [postgres, python, salp] = await Promise.all([
    Postgres.start(),
    PythonApp.start(),
    targets.host(fixtures.path("salp_demo"), ["memfd", fixtures.path("libsalp_demo.so"), String(CALLS)]),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), python?.stop(), targets.cleanup()]);
});

test("every example has a provider here", () => {
  expect(EXAMPLES).toEqual(Object.keys(providers()).sort());
});

describe.each(EXAMPLES)("examples/%s", (name) => {
  test("compiles against the real software it names, on the files it names", async () => {
    const plan = await compileExample(name);
    const { pid, files } = providers()[name]!;
    expect(plan.probes.map((p) => p.binary.containerPath)).toEqual(files);
    for (const p of plan.probes) {
      expect(p.points.length).toBeGreaterThan(0);
      expect(p.target.processes.map((x) => x.pid)).toEqual([pid]);
    }
  });
});

describe("examples that fire on demand", () => {
  test("postgres-queries: each statement of the session is a query__start and a query__done event with its text", async () => {
    const plan = await compileExample("postgres-queries.probe");
    expect(plan.probes.map((p) => p.points.map((x) => (x.site.kind === "usdt" ? `${x.site.provider}:${x.site.name} ${x.site.argsText}` : "")))).toEqual([
      ["postgresql:query__start 8@%rbx"],
      ["postgresql:query__done 8@-144(%rbp)"],
    ]);
    const trace = await Trace.start(plan);
    const sql = "SELECT 'probec-example-' || 6 * 7;";
    try {
      await postgres.query(sql, "probec-example-42");
      await trace.waitForEvents("probe2", 1);
    } finally {
      await trace.close();
    }
    for (const id of ["probe1", "probe2"]) {
      expect(trace.of(id).map((e) => [e.pid, e.fields.query])).toEqual([[postgres.backendPid, sql]]);
    }
  });

  test("zookeeper-zoo-set2: zoo_set2's return value, from the real libzookeeper_mt", async () => {
    const trace = await Trace.start(await compileExample("zookeeper-zoo-set2.probe"));
    let rcs: number[];
    try {
      rcs = await python.calls("zoo", CALLS);
      await trace.waitForEvents("probe1", CALLS);
    } finally {
      await trace.close();
    }
    expect(rcs).toEqual(Array(CALLS).fill(-8));
    expect(trace.of("probe1").map((e) => [e.pid, e.fields.rc])).toEqual(Array(CALLS).fill([python.pid, -8n]));
  });

  test("getaddrinfo-failures: the host asked for and the error of every failed call", async () => {
    const trace = await Trace.start(await compileExample("getaddrinfo-failures.probe"));
    let rcs: number[];
    try {
      rcs = await python.calls("gai", CALLS);
      await trace.waitForEvents("probe1", CALLS);
    } finally {
      await trace.close();
    }
    // socket.gaierror's errno is getaddrinfo's return value (EAI_SERVICE, -8 in glibc).
    expect(rcs.every((rc) => rc < 0)).toBe(true);
    expect(trace.of("probe1").map((e) => [e.fields.host, e.fields.rc])).toEqual(rcs.map((rc) => ["127.0.0.1", BigInt(rc)]));
  });

  test("salp-usdt: p1's int and two strings, counted from arg0, even n only", async () => {
    const trace = await Trace.start(await compileExample("salp-usdt.probe"));
    try {
      expect(await salp.round()).toEqual([`round 1 calls ${CALLS}`]);
      await trace.waitForEvents("probe1", CALLS / 2);
    } finally {
      await trace.close();
    }
    expect(trace.of("probe1").map((e) => e.fields)).toEqual([1000, 1002].map((n) => ({ n: BigInt(n), first: `first-${n}`, second: `second-${n}` })));
  });
});
