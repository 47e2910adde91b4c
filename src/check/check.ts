/**
 * `checkImage(path, spec, options)`: does every probe of `spec` exist in
 * the image at `path`? For CI, before the image ever runs.
 *
 * The image is opened once (its layers indexed, src/image), every target's
 * object resolved as the image's loader would, the objects read in one
 * pass over the layers that hold them, and each location looked up with
 * the same rules as everywhere else in probec (src/locate/locate.ts:
 * default symbol versions, IFUNC refused, globs, `sym+0x10`, USDT
 * `provider:name`). A USDT probe that reads `argN` beyond a site's
 * arguments is reported too: it would attach and read garbage.
 *
 * Never throws for a missing probe (that is the result) nor for a problem
 * in a probe file (those are diagnostics); throws a `ProbecError` for an
 * image it cannot read, an unknown platform, or a malformed inline target.
 */
import type { Diagnostic } from "../dsl/index.js";
import { ElfFile } from "../elf/elf-file.js";
import { hex } from "../elf/fields.js";
import type { FoundSymbol } from "../elf/find-symbol.js";
import { ProbecError } from "../errors.js";
import { SliceSource } from "../io/slice-source.js";
import { openImage, type OpenImageOptions } from "../image/open-image.js";
import type { ImageTree } from "../image/tree.js";
import { nearest } from "../suggest.js";
import { loadX86Decoder } from "../golang/index.js";
import { codeOf, functionCodeOf } from "../locate/code.js";
import { locateIn } from "../locate/locate.js";
import { registerArgCount } from "../plan/index.js";
import { readUsdtSites } from "../usdt/notes.js";
import { ObjectResolver, likelyFiles, type ImageObject } from "./objects.js";
import { wantedTargets, type CheckSpec, type WantedTarget } from "./targets.js";

export type { CheckSpec, ProbeSource } from "./targets.js";

/** Options for {@link checkImage}. */
export interface CheckImageOptions extends Omit<OpenImageOptions, "prefetch"> {
  /** How a probe-file `spec` string is named in diagnostics (default `<inline>`). */
  readonly file?: string;
  /** The executable `exe` names, overriding the image config's Entrypoint/Cmd (needed for a bare root filesystem). */
  readonly exe?: string;
}

/** A place a probe would go. */
export interface CheckedSite {
  /** `function` for a symbol, glob, `sym+off` or address; `usdt` for a USDT site. */
  readonly kind: "function" | "usdt";
  /** The function (`malloc`, `vfunc@@VER_2`, `main+0x10`) or `provider:name`. */
  readonly name: string;
  /** Link-time address, `0x…`. */
  readonly address: string;
  /** The uprobe offset in the file. */
  readonly fileOffset: number;
  /** The semaphore's file offset (`ref_ctr_offset`), USDT sites only. */
  readonly semaphoreOffset: number | undefined;
  /** USDT arguments as the note writes them (`-4@%edi`), in order. */
  readonly args: readonly string[] | undefined;
}

/** The verdict on one target of one probe. */
export interface TargetCheck {
  /** The probe's id, or `inline`. */
  readonly probe: string;
  /** The probe kind, or `target` for an inline target. */
  readonly kind: WantedTarget["kind"];
  /** The target as written. */
  readonly target: string;
  /** Where it is written, for probe files. */
  readonly source: WantedTarget["source"];
  /**
   * `found`: every part exists; `missing`: the object or location does not;
   * `invalid`: it exists but cannot be probed as written (an IFUNC, an
   * `argN` past a USDT site's arguments).
   */
  readonly status: "found" | "missing" | "invalid";
  /** The object, when it was found. */
  readonly object: ImageObject | undefined;
  /** Where the probe would go (empty unless found, or invalid for arguments). */
  readonly sites: readonly CheckedSite[];
  /** Why it is not found. */
  readonly message: string | undefined;
  /** What to do about it: nearest names that exist, versions, candidates. */
  readonly hints: readonly string[];
}

/** The result of {@link checkImage}. */
export interface CheckResult {
  /** The image as read. */
  readonly image: {
    readonly path: string;
    readonly layout: ImageTree["layout"];
    readonly platform: string | undefined;
    readonly platforms: readonly string[];
    /** The executable `exe` names, when the image says. */
    readonly exe: string | undefined;
  };
  /** One per target of every probe, in spec order. */
  readonly checks: readonly TargetCheck[];
  /** Problems in probe files; when one is an error, that file's probes are not checked. */
  readonly problems: readonly { readonly file: string; readonly text: string; readonly diagnostics: readonly Diagnostic[] }[];
  /** Things said once (scopes ignored, a dangling hard link in a layer). */
  readonly notes: readonly string[];
  /** True when every check is `found` and no probe file has an error. */
  readonly ok: boolean;
}

/** Checks `spec` (a probe file's text, or inline targets and probe files) against the image at `path`. */
export async function checkImage(path: string, spec: CheckSpec, options: CheckImageOptions = {}): Promise<CheckResult> {
  const { targets, problems } = wantedTargets(spec, options.file ?? "<inline>");
  const specErrors = problems.some((p) => p.diagnostics.some((d) => d.severity === "error"));
  const tree = await openImage(path, {
    ...options,
    prefetch: likelyFiles(
      targets.map((t) => t.object),
      options.exe,
    ),
  });
  // Go functions' return instructions are decoded with iced-x86, which loads itself synchronously only on Node 20.16+.
  if (typeof process.getBuiltinModule !== "function") await loadX86Decoder();
  try {
    const resolver = new ObjectResolver(tree, options.exe);
    await resolver.prepare();
    let exe: string | undefined;
    try {
      exe = resolver.exePath();
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
    }
    const objects = targets.map((t) => resolveObject(resolver, t));
    const paths = [...new Set(objects.flatMap((o) => ("path" in o ? [o.path] : [])))];
    await tree.fetch(paths);
    const checks = targets.map((target, i) => checkTarget(tree, target, objects[i] as ResolvedOrFailed));
    const scopes = [...new Set(targets.flatMap((t) => (t.scope === undefined ? [] : [t.scope])))];
    const notes = [
      ...(scopes.length > 0 ? [`scopes are ignored for images (the image is the container): ${scopes.join(", ")}`] : []),
      ...tree.warnings,
      ...resolver.warnings,
    ];
    return {
      image: { path, layout: tree.layout, platform: tree.platform, platforms: tree.platforms, exe },
      checks,
      problems,
      notes,
      ok: !specErrors && checks.every((c) => c.status === "found"),
    };
  } finally {
    tree.close();
  }
}

type ResolvedOrFailed = ImageObject | { readonly error: ProbecError };

function resolveObject(resolver: ObjectResolver, target: WantedTarget): ResolvedOrFailed {
  try {
    return resolver.resolve(target.object);
  } catch (error) {
    if (error instanceof ProbecError) return { error };
    throw error;
  }
}

function checkTarget(tree: ImageTree, target: WantedTarget, object: ResolvedOrFailed): TargetCheck {
  const base = { probe: target.probe, kind: target.kind, target: target.written, source: target.source };
  if ("error" in object) {
    return { ...base, status: "missing", object: undefined, sites: [], message: object.error.message, hints: object.error.hints };
  }
  if (target.location === undefined) return { ...base, status: "found", object, sites: [], message: undefined, hints: [] };
  // A view that does not close the tree's reader: several targets may read one file.
  const shared = tree.open(object.path);
  let elf: ElfFile;
  try {
    elf = ElfFile.open(new SliceSource(shared, 0, shared.size), object.path);
  } catch (error) {
    // One object that is no ELF file (an entrypoint script) is this target's verdict, not the end of the check.
    if (!(error instanceof ProbecError)) throw error;
    const hint =
      object.how === "exe"
        ? "name the real program with --exe /path/in/image, or write its path instead of exe"
        : "name an ELF object of the image (an executable or a shared library)";
    return { ...base, status: "invalid", object, sites: [], message: error.message, hints: [hint] };
  }
  try {
    let found: ReturnType<typeof locateIn>;
    try {
      found = locateIn(elf, target.location);
    } catch (error) {
      if (!(error instanceof ProbecError)) throw error;
      const status = error.code === "E_NOT_FOUND" ? "missing" : "invalid";
      return { ...base, status, object, sites: [], message: error.message, hints: [...error.hints, ...usdtNearest(elf, target.location, error)] };
    }
    const sites: CheckedSite[] = [
      ...(found.symbols ?? []).map((s) => ({
        kind: "function" as const,
        name: s.version === null ? s.name : `${s.name}${s.isDefaultVersion ? "@@" : "@"}${s.version}`,
        address: hex(s.address),
        fileOffset: s.fileOffset,
        semaphoreOffset: undefined,
        args: undefined,
      })),
      ...(found.usdt ?? []).map((s) => ({
        kind: "usdt" as const,
        name: `${s.provider}:${s.name}`,
        address: hex(s.address),
        fileOffset: s.fileOffset,
        semaphoreOffset: s.semaphoreOffset,
        args: s.args.map((a) => a.spec),
      })),
    ];
    const short = (found.usdt ?? []).filter((s) => s.args.length <= target.maxArg);
    if (short.length > 0) {
      const described = [
        ...new Set(
          short.map(
            (s) =>
              `${s.provider}:${s.name} at ${hex(s.address)} has ${s.args.length} argument${s.args.length === 1 ? "" : "s"}${s.argsText === "" ? "" : ` ("${s.argsText}")`}`,
          ),
        ),
      ];
      return {
        ...base,
        status: "invalid",
        object,
        sites,
        message: `${object.path}: the probe reads arg${target.maxArg}, beyond the arguments of ${short.length === sites.length ? (sites.length === 1 ? "the USDT site" : "every matched USDT site") : `${short.length} of ${sites.length} matched USDT sites`}`,
        hints: described.slice(0, 3),
      };
    }
    const code = goCodeProblem(elf, target, found.symbols ?? []);
    if (code !== undefined) return { ...base, status: "invalid", object, sites, message: `${object.path}: ${code.message}`, hints: code.hints };
    return { ...base, status: "found", object, sites, message: undefined, hints: [] };
  } finally {
    elf.close();
  }
}

/**
 * What compile would refuse in the functions' code, so that a probe the
 * check passes also compiles (issue 12): `argN` beyond the registers of a
 * function's ABI (none for Go assembly), and a return probe on a function
 * of a Go binary whose return instructions cannot all be found.
 */
function goCodeProblem(elf: ElfFile, target: WantedTarget, symbols: readonly FoundSymbol[]): { message: string; hints: string[] } | undefined {
  if (symbols.length === 0) return undefined;
  const code = codeOf(elf);
  const wantsReturns = target.kind === "uretprobe" || target.kind === "uprobe+ret";
  if (code.language !== "go" && target.maxArg < 6) return undefined;
  // A glob leaves out the functions it cannot probe whole, as compile does (with a warning), unless that is all of them.
  const glob = target.location !== undefined && /[*?[]/.test(target.location);
  const unprobed: { message: string; hints: string[] }[] = [];
  for (const symbol of symbols) {
    const fn = functionCodeOf(elf, code, symbol);
    const registers = fn.abi === undefined ? 0 : registerArgCount(fn.abi, code.machine);
    if (target.maxArg >= registers) {
      return {
        message: `the probe reads arg${target.maxArg}, which ${symbol.name} does not pass in a register`,
        hints: [
          registers === 0
            ? `${symbol.name} is Go assembly (ABI0): its arguments are on the stack`
            : `${symbol.name} (${fn.abi}) passes arg0..arg${registers - 1} in registers`,
        ],
      };
    }
    if (wantsReturns && fn.returns !== undefined && "refused" in fn.returns) {
      unprobed.push({
        message: `no ${target.kind} on ${symbol.name}: ${fn.returns.refused}`,
        hints: ["probec never puts a kernel return probe on a Go binary: the Go runtime crashes on it (PITFALLS 29)"],
      });
    } else if (target.kind === "uprobe+ret" && fn.abi === "go-abi0") {
      unprobed.push({
        message: `no uprobe+ret on ${symbol.name}: it is Go assembly (ABI0), which keeps no goroutine register to pair its entry and return by`,
        hints: ["use uretprobe or uprobe"],
      });
    }
  }
  if (unprobed.length === 0 || (glob && unprobed.length < symbols.length)) return undefined;
  return unprobed[0];
}

/** For a USDT `provider:name` that matched nothing: the nearest `provider:name`s that exist. */
function usdtNearest(elf: ElfFile, location: string, error: ProbecError): string[] {
  if (!location.includes(":") || error.code !== "E_NOT_FOUND") return [];
  try {
    const names = [...new Set(readUsdtSites(elf).map((s) => `${s.provider}:${s.name}`))];
    const near = nearest(location, names, 3);
    return near.length > 0 ? [`did you mean ${near.map((n) => `"${n}"`).join(", ")}?`] : [];
  } catch (e) {
    if (e instanceof ProbecError) return [];
    throw e;
  }
}
