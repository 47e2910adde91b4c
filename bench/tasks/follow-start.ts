/**
 * Task (r), issue 14: `--follow`, container start → first event from it.
 *
 * `follow()` (what `probec run FILE --follow` runs) watches the selector
 * `docker/probec-bench-follow=start` on the tests' Docker daemon. One
 * container at a time, 20 in all, is started with that label; it runs
 * `follow-ticker 20`, which calls `probec_bench_started(start, seq)` once a
 * millisecond, `start` being CLOCK_MONOTONIC at the top of its main. The
 * first event that names the container ends its sample: the bench's own
 * CLOCK_MONOTONIC at that event minus `start` (the kernel's timestamp of
 * that hit minus `start` is the second row: when the probe was live). Then
 * the container is removed (and detached) before the next one starts.
 *
 * No peer: bpftrace and bcc attach to what runs when they start and do not
 * follow containers.
 */
import { follow, type FollowChange, type ProbeEvent } from "../../src/index.js";
import { ensureDockerd, TEST_DOCKER_HOST } from "../../test/support/dockerd.js";
import { removeContainers } from "../docker.js";
import { medianOf, type Sample } from "../measure.js";
import { formatMs, printTask } from "../table.js";
import { messageOf, printSkipped } from "./attach-support.js";
import { ensureTickerImage, FOLLOW_LABEL, runLabelled } from "./follow-support.js";

const STARTS = 20;
const TITLE = `(r) --follow: container start → first event from it (selector docker/${FOLLOW_LABEL}=start, ${STARTS} starts)`;
/** How long one container may take to its first event before the task gives up. */
const FIRST_EVENT_TIMEOUT_MS = 10_000;

/** When a container's first event came, on the monotonic clock (ns), and the program's own start. */
interface First {
  readonly receivedNs: bigint;
  readonly hitNs: bigint;
  readonly startNs: bigint;
}

/** Runs task (r) and prints its table. */
export async function followStartTask(print: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return printSkipped(print, TITLE, "needs root (BPF, uprobes, the tests' Docker daemon)");
  try {
    await ensureDockerd();
  } catch (error) {
    return printSkipped(print, TITLE, `the tests' Docker daemon cannot be started: ${messageOf(error)}`);
  }
  const { image, binary } = ensureTickerImage();
  const names = Array.from({ length: STARTS }, (_, i) => `probec-bench-follow-start-${i}`);
  removeContainers(names);
  const changes: FollowChange[] = [];
  const following = await follow(`uprobe docker/${FOLLOW_LABEL}=start:exe:probec_bench_started { start = arg0 }`, {
    file: "bench-follow-start.probe",
    docker: { host: TEST_DOCKER_HOST },
    onChange: (change) => changes.push(change),
  });
  const firsts = new Map<string, First>();
  const reading = (async () => {
    for await (const event of following as AsyncIterable<ProbeEvent>) {
      const id = event.containerId;
      if (id === undefined || firsts.has(id)) continue;
      firsts.set(id, { receivedNs: process.hrtime.bigint(), hitNs: event.timestamp, startNs: event.fields.start as bigint });
    }
  })().catch(() => undefined);
  const received: Sample[] = [];
  const hit: Sample[] = [];
  const fromRun: number[] = [];
  let failure: string | undefined;
  try {
    for (const name of names) {
      const runNs = process.hrtime.bigint();
      const id = await runLabelled(name, "start", image, [binary, "20"]);
      const deadline = performance.now() + FIRST_EVENT_TIMEOUT_MS;
      while (!firsts.has(id) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      const first = firsts.get(id);
      if (first === undefined) {
        failure = `${name}: no event within ${FIRST_EVENT_TIMEOUT_MS / 1000} s of docker run; follow's changes: ${changes.map((c) => c.type).join(", ")}`;
        break;
      }
      received.push(sample(first.receivedNs - first.startNs));
      hit.push(sample(first.hitNs - first.startNs));
      fromRun.push(Number(first.receivedNs - runNs) / 1e6);
      removeContainers([name]);
    }
  } finally {
    removeContainers(names);
    await following.close().catch(() => undefined);
    await reading;
  }
  const note = failure === undefined ? undefined : `stopped early: ${failure}`;
  const attached = changes.filter((c) => c.type === "attached").length;
  printTask(
    print,
    TITLE,
    [
      {
        tool: "follow(): start → first event received",
        scope: "in process",
        samples: received,
        bytesHow: "n/a",
        answer: `${received.length} containers, ${attached} attached`,
        ...(note === undefined ? {} : { note }),
      },
      {
        tool: "follow(): start → first hit (kernel time)",
        scope: "in process",
        samples: hit,
        bytesHow: "n/a",
        answer: "probe live",
        note: `docker run issued → first event received: median ${formatMs(medianOf(fromRun))} (the runtime's create and start included)`,
      },
    ],
    [
      { what: "median container start → first event", value: medianOf(received.map((s) => s.ms)), limit: 500, unit: "ms" },
      {
        what: "max container start → first event",
        value: received.length === STARTS ? Math.max(...received.map((s) => s.ms)) : undefined,
        limit: 500,
        unit: "ms",
      },
    ],
  );
}

function sample(ns: bigint): Sample {
  return { ms: Number(ns) / 1e6, peakRssGrowth: undefined, bytesRead: undefined };
}
