/**
 * `probec list TARGET` and `probec list SCOPE`: the file a target's
 * process maps (or would load), or every mapped object of a scope that has
 * USDT probes. Loaded by ./list.ts only for an argument that names a
 * target, so that listing a plain file never loads container discovery.
 */
import {
  type ElfFile,
  ProbecError,
  UsageError,
  findUsdt,
  openElf,
  parseTargetSpec,
  resolveScope,
  resolveTarget,
  type TargetSpec,
  type UsdtSite,
} from "../../index.js";
import { isDebugOnly, openObject, scopeNamespaces, type ScopeObject } from "../internal.js";
import { EXIT, type CliIo } from "../io.js";
import { type ListArgs, listElf, printProbes, splitProbePattern } from "./list.js";

/** Lists a TARGET (`docker/pg:postgres`) in each object it resolves to, or a bare scope's USDT probes. */
export async function listTarget(args: ListArgs, io: CliIo): Promise<number> {
  const spec = parseTargetSpec(args.target);
  const pattern = args.pattern ?? spec.location;
  if (spec.object === undefined) return listScope(spec, { ...args, pattern }, io);
  const resolution = await resolveTarget({ ...spec, location: undefined });
  let code: number = EXIT.noMatch;
  for (const group of resolution.groups) {
    for (const warning of group.object.warnings) io.stderr.write(`probec: warning: ${warning}\n`);
    const elf = openObject(spec, group.object);
    try {
      // Several objects (mount namespaces, or an object glob such as "memfd:libstapsdt:*"): each row names its file.
      const result = await listElf(elf, elf.name, { ...args, pattern }, io, resolution.groups.length > 1);
      if (result === EXIT.ok) code = EXIT.ok;
    } finally {
      elf.close();
    }
  }
  return code;
}

/** Every object the scope's processes map that has USDT probes (one process per mount namespace). */
async function listScope(spec: TargetSpec, args: ListArgs, io: CliIo): Promise<number> {
  if (args.functions) {
    throw new UsageError(`"${spec.text}" names no object, and listing every function of every mapped object is rarely what you want`, [
      `name one: probec list ${spec.text}:libc --functions`,
    ]);
  }
  const scope = await resolveScope(spec.scope);
  const [provider, name] = splitProbePattern(args.pattern);
  const sites: UsdtSite[] = [];
  for (const namespace of scopeNamespaces(scope, { hostPid: process.pid })) {
    for (const object of namespace.objects) {
      const elf = openMapped(object, spec);
      if (elf === undefined) continue;
      try {
        sites.push(...(await findUsdt(elf, { ...(provider === undefined ? {} : { provider }), ...(name === undefined ? {} : { name }) })));
      } finally {
        elf.close();
      }
    }
  }
  if (sites.length === 0 && !args.json) {
    io.stderr.write(`probec: no object mapped in ${spec.text} has USDT probes${args.pattern === undefined ? "" : ` matching "${args.pattern}"`}\n`);
    return EXIT.noMatch;
  }
  return printProbes(args, sites, io, true);
}

/** Opens a mapped object through map_files, or undefined when it is not ELF (fonts, locale archives) or has gone. */
function openMapped(object: ScopeObject, spec: TargetSpec): ElfFile | undefined {
  try {
    const elf = openElf(object.mapFiles, { label: `${spec.text}:${object.path}` });
    if (!isDebugOnly(elf)) return elf;
    elf.close();
  } catch (error) {
    if (!(error instanceof ProbecError)) throw error;
  }
  return undefined;
}
