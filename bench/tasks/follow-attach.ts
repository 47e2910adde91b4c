/**
 * Task (s), issue 14: one selector matching 50 running containers, plan →
 * all attached.
 *
 * 50 containers labelled `probec-bench-follow=attach` run `follow-ticker
 * idle` (the probed function exists but is not called: attaching is timed,
 * not events). In the bench process, 3 runs each of:
 *
 * - `compile()` of `uprobe docker/probec-bench-follow=attach:exe:probec_bench_started`
 *   (the plan: every container resolved, one entry per distinct binary
 *   with the containers' mount namespaces), then `attach(plan)` until
 *   `ready`: what `probec run FILE` does; the total is the target's figure;
 * - `follow()` of the same probe until it resolves, which is when the
 *   containers running at its start are attached: what `probec run FILE
 *   --follow` does first.
 *
 * Each run is closed (detached) before the next. The answer column says how
 * many containers the plan or the follow covered. No peer follows selectors.
 */
import { attach, compile, follow, renderDiagnostics, type AttachPlan, type FollowChange } from "../../src/index.js";
import { ensureDockerd, TEST_DOCKER_HOST } from "../../test/support/dockerd.js";
import { medianOf, type Sample } from "../measure.js";
import { printTask } from "../table.js";
import { messageOf, printSkipped } from "./attach-support.js";
import { ensureTickerImage, FOLLOW_LABEL, withLabelledContainers } from "./follow-support.js";

const CONTAINERS = 50;
const RUNS = 3;
const TITLE = `(s) one selector matching ${CONTAINERS} running containers: plan → all attached`;
const SOURCE = `uprobe docker/${FOLLOW_LABEL}=attach:exe:probec_bench_started { start = arg0 }`;
const DOCKER = { docker: { host: TEST_DOCKER_HOST } };

/** Containers a plan's entries cover: each entry's `target.containers`, else its one container. */
function containersIn(plan: AttachPlan): number {
  const ids = new Set<string>();
  for (const probe of plan.probes) {
    for (const c of probe.target.containers ?? []) ids.add(c.containerId);
    if (probe.target.containerId !== null) ids.add(probe.target.containerId);
  }
  return ids.size;
}

const ms = (began: number): Sample => ({ ms: performance.now() - began, peakRssGrowth: undefined, bytesRead: undefined });

/** Runs task (s) and prints its table. */
export async function followAttachTask(print: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return printSkipped(print, TITLE, "needs root (BPF, uprobes, the tests' Docker daemon)");
  try {
    await ensureDockerd();
  } catch (error) {
    return printSkipped(print, TITLE, `the tests' Docker daemon cannot be started: ${messageOf(error)}`);
  }
  const { image, binary } = ensureTickerImage();
  const names = Array.from({ length: CONTAINERS }, (_, i) => `probec-bench-follow-attach-${i}`);
  const setupBegan = performance.now();
  await withLabelledContainers(names, "attach", image, [binary, "idle"], async () => {
    const setupS = (performance.now() - setupBegan) / 1000;
    const compiles: Sample[] = [];
    const attaches: Sample[] = [];
    const totals: Sample[] = [];
    const follows: Sample[] = [];
    const answers = { plan: "", follow: "" };
    let failure: string | undefined;
    try {
      for (let run = 0; run < RUNS; run++) {
        const began = performance.now();
        const { plan, diagnostics } = await compile(SOURCE, { file: "bench-follow-attach.probe", ...DOCKER });
        if (plan === undefined) throw new Error(renderDiagnostics(SOURCE, "bench-follow-attach.probe", diagnostics));
        compiles.push(ms(began));
        const attachBegan = performance.now();
        const attachment = attach(plan);
        const ready = await attachment.ready;
        attaches.push(ms(attachBegan));
        totals.push(ms(began));
        answers.plan = `${containersIn(plan)} containers, ${plan.probes.length} entr${plan.probes.length === 1 ? "y" : "ies"}, ${ready.points} points, ${ready.failed} failed`;
        await attachment.close();
      }
      for (let run = 0; run < RUNS; run++) {
        const changes: FollowChange[] = [];
        const began = performance.now();
        const following = await follow(SOURCE, { file: "bench-follow-attach.probe", ...DOCKER, onChange: (c) => changes.push(c) });
        follows.push(ms(began));
        answers.follow = `${following.attached.size} containers attached, ${changes.filter((c) => c.type === "failed").length} failed`;
        await following.close();
      }
    } catch (error) {
      failure = messageOf(error);
    }
    const note = failure === undefined ? undefined : `failed: ${failure}`;
    printTask(
      print,
      `${TITLE} (setup: ${CONTAINERS} containers started in ${setupS.toFixed(1)} s)`,
      [
        {
          tool: "compile() + attach() → ready",
          scope: "in process",
          samples: totals,
          bytesHow: "n/a",
          answer: answers.plan,
          ...(note === undefined ? {} : { note }),
        },
        { tool: "  of which compile() (the plan)", scope: "in process", samples: compiles, bytesHow: "n/a" },
        { tool: "  of which attach() → ready", scope: "in process", samples: attaches, bytesHow: "n/a" },
        { tool: "follow() → running ones attached", scope: "in process", samples: follows, bytesHow: "n/a", answer: answers.follow },
      ],
      [
        { what: "median plan → all attached (compile + attach)", value: medianOf(totals.map((s) => s.ms)), limit: 1000, unit: "ms" },
        { what: "median follow() → all attached", value: medianOf(follows.map((s) => s.ms)), limit: 1000, unit: "ms" },
      ],
    );
  });
}
