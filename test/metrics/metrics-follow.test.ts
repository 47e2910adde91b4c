/**
 * `--metrics` with `--follow` on the tests' Docker daemon: a container
 * followed by name, started after probec, runs test/follow/caller.ts's
 * program (SIGUSR1 → five calls of work(n), each printed), under a file of
 * two probes on work(): one printing, one `count by container`. /metrics
 * is scraped over loopback and parsed: the probes are listed with 0 hits
 * once the container is attached; the printing probe's hits, the counting
 * probe's hits and its count for the container (asked of the kernel at
 * each scrape) are exactly the calls the container printed, across a
 * restart (which detaches and re-attaches it, and makes the kernel forget
 * the first run's count).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StringSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import { buildCaller, CALLER_BINARY, CALLER_IMAGE } from "../follow/caller.js";
import { docker, ensureDockerd, importBinariesImage, removeContainers, runContainer, TEST_DOCKER_HOST } from "../support/dockerd.js";
import { parsePrometheusText, sampleValue } from "./prom-text.js";

const NAME = "probec-metrics-follow";
let dir: string;

beforeAll(async () => {
  await ensureDockerd();
  buildCaller();
  importBinariesImage(CALLER_IMAGE, [CALLER_BINARY]);
  removeContainers(NAME);
  dir = mkdtempSync(join(tmpdir(), "probec-metrics-follow-"));
}, 120_000);

afterAll(() => {
  removeContainers(NAME);
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, done: () => boolean | Promise<boolean>, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const logLines = (): string[] => docker(["logs", NAME]).split("\n");
const printedCalls = (): number => logLines().filter((l) => /^called work\(\d+\)$/.test(l)).length;
const readyLines = (): number => logLines().filter((l) => l === "ready").length;

/** What a scrape says: both probes' hits and the container's count, or undefined while no probe is known. */
async function scrape(url: string): Promise<{ printed: number; counted: number; count: number | undefined } | undefined> {
  const families = parsePrometheusText(await (await fetch(url)).text());
  if (families.get("probec_hits_total")?.samples.length === 0) return undefined;
  const count = families.get("probec_count_total");
  return {
    printed: sampleValue(families, "probec_hits_total", { probe: "probe1" }),
    counted: sampleValue(families, "probec_hits_total", { probe: "probe2" }),
    count: count === undefined ? undefined : sampleValue(families, "probec_count_total", { probe: "probe2", container: NAME }),
  };
}

describe("--metrics --follow", () => {
  it("a printing and a counting probe: hits and the container's count are exactly the calls it printed, across a restart", async () => {
    const file = join(dir, "two.probe");
    writeFileSync(file, `uprobe docker/${NAME}:exe:work { n = arg0 }\nuprobe docker/${NAME}:exe:work { count by container }\n`);
    const stdout = new StringSink();
    const stderr = new StringSink();
    const abort = new AbortController();
    const env = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = TEST_DOCKER_HOST;
    const code = run(["run", file, "--follow", "--json", "--metrics", "127.0.0.1:0"], { stdout, stderr, signal: abort.signal });
    const log = (): string => stderr.text;
    try {
      await until("following", () => stderr.text.includes("following"), log);
      const url = /metrics at (http:\/\/\S+)/.exec(stderr.text)?.[1] as string;
      // Nothing attached yet: no plan, so no probe to show.
      expect(await scrape(url)).toBeUndefined();

      runContainer(CALLER_IMAGE, NAME, [CALLER_BINARY]);
      await until("attached", () => stderr.text.includes(`+ docker/${NAME}`), log);
      await until("the probes listed", async () => (await scrape(url)) !== undefined, log);
      expect(await scrape(url)).toEqual({ printed: 0, counted: 0, count: undefined });

      /** One batch of five calls; waits until the container printed them and a scrape counted them all. */
      const poke = async (calls: number, readies: number): Promise<void> => {
        await until(
          "the caller ready",
          () => readyLines() === readies,
          () => docker(["logs", NAME]),
        );
        docker(["kill", "-s", "USR1", NAME]);
        await until(
          `${calls} calls printed`,
          () => printedCalls() >= calls,
          () => docker(["logs", NAME]),
        );
        await until(
          `${calls} hits and counts`,
          async () => {
            const s = await scrape(url);
            return s !== undefined && s.printed >= calls && (s.count ?? 0) >= calls;
          },
          log,
        );
      };
      await poke(5, 1);
      await poke(10, 1);
      expect(printedCalls()).toBe(10);
      expect(await scrape(url)).toEqual({ printed: 10, counted: 10, count: 10 });

      docker(["restart", NAME]);
      await until("re-attached", () => (stderr.text.match(new RegExp(`\\+ docker/${NAME}`, "g")) ?? []).length === 2, log);
      await poke(15, 2);
      expect(printedCalls()).toBe(15);
      expect(await scrape(url)).toEqual({ printed: 15, counted: 15, count: 15 });
    } finally {
      abort.abort();
      const exit = await code;
      expect({ exit, stderr: exit === 0 ? "" : stderr.text }).toEqual({ exit: 0, stderr: "" });
      if (env === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = env;
    }
  });
});
