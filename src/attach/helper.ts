/**
 * Where the native helper `probec-attach` is, and the one error that says
 * so when it is nowhere: every path tried, why each was refused, and what
 * to do about it (as sharp does for its native module).
 *
 * Order: the caller's `helperPath`, else `$PROBEC_ATTACH`, else the
 * packaged binary `<pkg>/prebuilds/<platform>-<arch>/probec-attach`. The npm
 * package carries one for linux-x64 and linux-arm64 (native/Makefile links
 * libbpf, libelf and zlib in, so it needs only libc); nothing is downloaded
 * or built at install time (issue 13), so a platform without one is told
 * here how to build it. A path the user named explicitly (option or
 * environment) is the only one tried: running some other binary than the
 * one asked for would hide their mistake.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AttachError } from "../errors.js";

/** The helper's file name. */
export const HELPER_NAME = "probec-attach";

/** What to do when the helper cannot be found or run; every `AttachError` about it carries these. */
export const HELPER_SOLUTIONS: readonly string[] = [
  "build it from the sources in probec's package directory: npm run build:native (native/Makefile; the npm package ships linux-x64 and linux-arm64 binaries)",
  "building needs make, gcc, clang and the static libraries of libbpf-dev, libelf-dev and zlib1g-dev: apt-get install make gcc clang libbpf-dev libelf-dev zlib1g-dev",
  "attaching needs a kernel with BPF and uprobes (CONFIG_BPF_SYSCALL, CONFIG_UPROBE_EVENTS)",
  // Never file capabilities (setcap) on the helper: it executes whatever plan it is given, so every user who could run it could trace every process.
  "run probec as root, or from a process that holds CAP_BPF and CAP_PERFMON itself",
  "or name a helper explicitly: attach(plan, { helperPath }) or PROBEC_ATTACH=/path/to/probec-attach",
];

/** One place looked at. */
export interface HelperCandidate {
  /** The path. */
  readonly path: string;
  /** Where it came from: `helperPath option`, `$PROBEC_ATTACH`, `prebuilt`. */
  readonly source: string;
}

/** The places to look, in order, for these options and environment (`platform` is `<process.platform>-<process.arch>`). */
export function helperCandidates(
  helperPath: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  packageRoot = findPackageRoot(),
  platform = `${process.platform}-${process.arch}`,
): HelperCandidate[] {
  if (helperPath !== undefined) return [{ path: helperPath, source: "helperPath option" }];
  const fromEnv = env.PROBEC_ATTACH;
  if (fromEnv !== undefined && fromEnv !== "") return [{ path: fromEnv, source: "$PROBEC_ATTACH" }];
  return [{ path: join(packageRoot, "prebuilds", platform, HELPER_NAME), source: "prebuilt" }];
}

/** The platforms native/Makefile builds for (Node's names); their register layouts are in native/bpf/probec.bpf.c and native/src/lower.c. */
export const HELPER_PLATFORMS: readonly string[] = ["linux-x64", "linux-arm64"];

/** The first candidate that is an executable file; else an {@link AttachError} listing every candidate and why it was refused. */
export function locateHelper(
  helperPath: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  packageRoot = findPackageRoot(),
  platform = `${process.platform}-${process.arch}`,
): string {
  const candidates = helperCandidates(helperPath, env, packageRoot, platform);
  const refused: string[] = [];
  for (const candidate of candidates) {
    const problem = unusable(candidate.path);
    if (problem === undefined) return candidate.path;
    refused.push(`${candidate.path} (${candidate.source}): ${problem}`);
  }
  const onlyPrebuilt = candidates.length === 1 && candidates[0]?.source === "prebuilt";
  if (onlyPrebuilt && !HELPER_PLATFORMS.includes(platform)) {
    // No binary and none can be built: the BPF program and the attacher know the pt_regs layout of x86_64 and aarch64 only.
    throw new AttachError(
      `probec-attach, the native helper that attaches probes, exists for ${HELPER_PLATFORMS.join(" and ")} only, not for ${platform}; tried:\n    ${refused.join("\n    ")}`,
      [
        "porting it means adding this architecture's pt_regs layout to native/bpf/probec.bpf.c and native/src/lower.c and its name to native/Makefile",
        "probec compile, list, resolve and check work without it",
      ],
    );
  }
  if (onlyPrebuilt) {
    // A supported platform without its binary: a git checkout, or a package packed without running the build.
    throw helperError(
      `no probec-attach for ${platform}, the native helper that attaches probes: build it with \`npm run build:native\` in ${packageRoot}`,
      refused,
    );
  }
  throw helperError("cannot find a usable probec-attach, the native helper that attaches probes", refused);
}

/** The one error about the helper: what failed, each path tried, and the solutions. */
export function helperError(problem: string, tried: readonly string[]): AttachError {
  return new AttachError(`${problem}; tried:\n${tried.map((t) => `    ${t}`).join("\n")}`, HELPER_SOLUTIONS);
}

/** Why `path` cannot be run, or undefined when it can. */
function unusable(path: string): string | undefined {
  if (!existsSync(path)) return "no such file";
  try {
    if (!statSync(path).isFile()) return "not a regular file";
    accessSync(path, constants.X_OK);
  } catch (error) {
    return `not executable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  return undefined;
}

/** The directory of probec's package.json: this file is at <pkg>/src/attach/ or <pkg>/dist/src/attach/. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (isProbecPackage(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Not found (an unusual install): the two levels above src/attach/ are the best guess, and the error will show them.
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..");
}

function isProbecPackage(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { name?: unknown }).name === "probec";
  } catch {
    return false;
  }
}
