/**
 * Kernel features as data (src/attach/features.ts): each feature the
 * attacher probes carries the Linux release that brought it, so this test
 * asks the running kernel (`uname -r`) and FAILS when a feature is missing
 * on a kernel new enough to have it. On an older kernel the verdict is
 * "too old" and the test says which; it never skips. The features come
 * from the real helper's `hello`, the same probe every `probec run` does.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { featureProblem, featureVerdict, KERNEL_FEATURES, kernelAtLeast, parseKernelRelease, type KernelFeature } from "../../src/attach/features.js";
import { FRAME_STATUS, FrameDecoder } from "../../src/attach/frames.js";
import { parseStatus } from "../../src/attach/status.js";

const ROOT = join(import.meta.dirname, "..", "..");
const HELPER = join(ROOT, "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");
const feature = (key: KernelFeature["key"]): KernelFeature => KERNEL_FEATURES.find((f) => f.key === key)!;

/** The helper's hello: given a plan that is not JSON, it still probes the kernel and says hello first. */
function hello(): { kernel: string; features: Record<string, unknown> } {
  const r = spawnSync(HELPER, [], { input: "{ not json" });
  expect(r.error).toBeUndefined();
  const frames = new FrameDecoder().push(r.stdout).filter((f) => f.type === FRAME_STATUS);
  const status = parseStatus(frames[0]!.payload);
  expect(status.type).toBe("hello");
  return status as unknown as { kernel: string; features: Record<string, unknown> };
}

describe("kernel releases", () => {
  it("parses uname -r as [major, minor]", () => {
    expect(parseKernelRelease("6.8.0-45-generic")).toEqual([6, 8]);
    expect(parseKernelRelease("4.19.0-27-amd64")).toEqual([4, 19]);
    expect(parseKernelRelease("5.15.167.4-microsoft-standard-WSL2")).toEqual([5, 15]);
    expect(parseKernelRelease("unknown")).toBeUndefined();
  });

  it("compares releases by major, then minor", () => {
    expect(kernelAtLeast("6.6.0", [6, 6])).toBe(true);
    expect(kernelAtLeast("6.5.13", [6, 6])).toBe(false);
    expect(kernelAtLeast("6.10.1", [6, 6])).toBe(true);
    expect(kernelAtLeast("5.19.0", [6, 6])).toBe(false);
    expect(kernelAtLeast("7.0.0", [6, 6])).toBe(true);
  });
});

describe("feature verdicts", () => {
  it("tells a kernel too old for a feature from one where it is missing", () => {
    const multi = feature("uprobeMulti");
    expect(featureVerdict(multi, "6.1.0-18-amd64", false)).toBe("too old");
    expect(featureVerdict(multi, "6.8.0-45-generic", false)).toBe("missing");
    expect(featureVerdict(multi, "5.4.0", true)).toBe("present");
    // An unparsable release excuses nothing.
    expect(featureVerdict(multi, "weird", false)).toBe("missing");
  });

  it("says what a feature is for and what to do, by verdict", () => {
    expect(featureProblem(feature("ringbuf"), "5.4.0-1")).toBe(
      "BPF ring buffers (BPF_MAP_TYPE_RINGBUF) (Linux 5.8, for carrying every event to the attacher) is not in kernel 5.4.0-1, which predates it; a newer kernel has it",
    );
    expect(featureProblem(feature("bpfLoop"), "6.1.0")).toMatch(
      /^the bpf_loop helper \(Linux 5\.17, .*\) is missing although kernel 6\.1\.0 is new enough: check /,
    );
  });

  it("records the release of every feature the helper reports, in the hello's order (native/src/status.c)", () => {
    const status = readFileSync(join(ROOT, "native/src/status.c"), "utf8");
    const body = status.slice(status.indexOf("void status_hello"), status.indexOf("void status_layout"));
    const keys = [...body.slice(body.indexOf('"features"')).matchAll(/jw_key\(&w, "(\w+)"\)/g)].map((m) => m[1]);
    expect(keys).toEqual(KERNEL_FEATURES.map((f) => f.key));
  });
});

describe("the running kernel", () => {
  const uname = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
  const reported = hello();

  it("is the kernel the helper reports", () => {
    expect(reported.kernel).toBe(uname);
    expect(Object.keys(reported.features)).toEqual(KERNEL_FEATURES.map((f) => f.key));
  });

  for (const f of KERNEL_FEATURES) {
    it(`${f.key}: present, unless the kernel predates Linux ${f.since.join(".")}`, () => {
      const present = reported.features[f.key] === true;
      const verdict = featureVerdict(f, uname, present);
      // "too old" is the only absence allowed, and only below the feature's release; "missing" fails with why.
      expect(verdict === "missing" ? featureProblem(f, uname) : verdict).toBe(kernelAtLeast(uname, f.since) ? "present" : "too old");
    });
  }
});
