/**
 * What a check looks for: each target of each probe, as `OBJECT` and
 * `LOCATION` in the image, from probe files (`SCOPE:OBJECT:LOCATION`, the
 * scope ignored: the image is the container) or inline targets, which may
 * leave the scope out (`libc:malloc`, `exe:salp-demo:p1`).
 */
import { argUses, checkProbeFile, parseProbeFile, type Diagnostic, type ProbeKind, type SourceLocation } from "../dsl/index.js";
import { UsageError } from "../errors.js";
import { parseTargetSpec } from "../dsl/target-spec.js";
import { SCOPE_PREFIXES } from "../plan/runtimes.js";

/** A probe file's text and the name it goes by in diagnostics. */
export interface ProbeSource {
  readonly file: string;
  readonly text: string;
}

/**
 * What to check: a probe file's text, or a list of inline targets and
 * probe files.
 */
export type CheckSpec = string | readonly (string | ProbeSource)[];

/** One target to look for in the image. */
export interface WantedTarget {
  /** The probe's id (`probe 1`, or its name in the file) or `inline` for an inline target. */
  readonly probe: string;
  /** The probe kind, or `target` for an inline target. */
  readonly kind: ProbeKind | "target";
  /** The target as written. */
  readonly written: string;
  /** The scope, ignored for images, when one was written. */
  readonly scope: string | undefined;
  /** `exe`, a library name or an absolute path. */
  readonly object: string;
  /** A symbol, glob, `sym+0x10`, address or `provider:name`; undefined to check only that the object exists. */
  readonly location: string | undefined;
  /** The highest `argN` the probe reads (−1 when none). */
  readonly maxArg: number;
  /** Where the target is written, for probe files. */
  readonly source: { readonly file: string; readonly line: number; readonly col: number } | undefined;
}

/** The targets of `spec`, and the diagnostics of its probe files (when any is an error, no targets are returned for that file). */
export function wantedTargets(
  spec: CheckSpec,
  defaultFile: string,
): { targets: WantedTarget[]; problems: { file: string; text: string; diagnostics: Diagnostic[] }[] } {
  const parts = typeof spec === "string" ? [{ file: defaultFile, text: spec }] : spec;
  const targets: WantedTarget[] = [];
  const problems: { file: string; text: string; diagnostics: Diagnostic[] }[] = [];
  for (const part of parts) {
    if (typeof part === "string") {
      targets.push(inlineTarget(part));
      continue;
    }
    const parsed = parseProbeFile(part.text, part.file);
    const checked = checkProbeFile(parsed.ast);
    const diagnostics = [...parsed.diagnostics, ...checked.diagnostics];
    if (diagnostics.length > 0) problems.push({ file: part.file, text: part.text, diagnostics });
    if (diagnostics.some((d) => d.severity === "error")) continue;
    for (const probe of checked.probes) {
      const maxArg = Math.max(-1, ...argUses(probe).map((u) => u.index));
      for (const target of probe.targets) {
        const fields = target.text.split(":");
        targets.push({
          probe: probe.id,
          kind: probe.kind,
          written: target.written,
          scope: fields[0],
          object: fields[1] ?? "",
          location: fields.slice(2).join(":") || undefined,
          maxArg,
          source: { file: part.file, line: startOf(target.loc).line, col: startOf(target.loc).column },
        });
      }
    }
  }
  return { targets, problems };
}

const SCOPE_KINDS = new RegExp(`^(${SCOPE_PREFIXES.join("|")})/`);

/**
 * An inline target. The scope may be left out, since the image is the
 * container; the first field is a scope only when it is written as one
 * (`docker/web`, `pid/1`, `host`), or when it is a bare container name
 * followed by something that can only be an object (`web:libc:malloc`).
 */
export function inlineTarget(text: string): WantedTarget {
  if (text === "") throw new UsageError("an empty target", ["write OBJECT[:LOCATION], e.g. libc:malloc or exe:provider:probe"]);
  const fields = text.split(":");
  const first = fields[0] as string;
  const second = fields[1];
  const scoped = first === "host" || SCOPE_KINDS.test(first) || (!looksLikeObject(first) && second !== undefined && looksLikeObject(second));
  if (scoped) {
    const spec = parseTargetSpec(text); // validates the scope, with the usual message
    if (spec.object === undefined) throw new UsageError(`target "${text}" names no object`, ["add one: SCOPE:libc, SCOPE:exe or SCOPE:/path/in/image"]);
    return { probe: "inline", kind: "target", written: text, scope: first, object: spec.object, location: spec.location, maxArg: -1, source: undefined };
  }
  const location = fields.slice(1).join(":");
  if (second !== undefined && location === "")
    throw new UsageError(`target "${text}": the location after ':' is empty`, ["write OBJECT:LOCATION, e.g. libc:malloc"]);
  return {
    probe: "inline",
    kind: "target",
    written: text,
    scope: undefined,
    object: first,
    location: location === "" ? undefined : location,
    maxArg: -1,
    source: undefined,
  };
}

/** `exe`, an absolute path, or something named like a library. */
function looksLikeObject(text: string): boolean {
  return text === "exe" || text.startsWith("/") || text.startsWith("lib") || text.includes(".so") || text.startsWith("ld-");
}

function startOf(loc: SourceLocation): { line: number; column: number } {
  return loc.start;
}
