/**
 * `probec list FILE [PATTERN]`: the USDT probes of a file (PATTERN is a
 * `provider:name` glob, or a name glob), or with `--functions` its
 * functions (PATTERN is a name glob). A table, or `--json`.
 */
import { listSymbols, type FoundSymbol } from "../../api/symbols.js";
import { findUsdt, type UsdtSite } from "../../api/usdt.js";
import { symbolToJson, usdtSiteToJson } from "../../api/json.js";
import { openElf } from "../../api/input.js";
import { hex } from "../../elf/fields.js";
import { EXIT, type CliIo } from "../io.js";
import { renderTable } from "../table.js";

/** Parsed arguments of `probec list`. */
export interface ListArgs {
  readonly target: string;
  readonly pattern: string | undefined;
  readonly functions: boolean;
  readonly json: boolean;
  readonly debugRoot: readonly string[] | undefined;
}

/** Runs `probec list`; returns the exit code. */
export async function listCommand(args: ListArgs, io: CliIo): Promise<number> {
  const onSkip = (path: string, why: string): void => void io.stderr.write(`probec: warning: ignored debug file ${path}: ${why}\n`);
  const debug = { ...(args.debugRoot === undefined ? {} : { debugRoots: args.debugRoot }), onSkip };
  // Open once up front so that a missing or malformed file is reported before any filtering.
  const elf = openElf(args.target);
  try {
    if (args.functions) {
      const symbols = await listSymbols(elf, { ...(args.pattern === undefined ? {} : { pattern: args.pattern }), ...debug });
      return printFunctions(args, symbols, io);
    }
    const [provider, name] = splitProbePattern(args.pattern);
    const sites = await findUsdt(elf, { ...(provider === undefined ? {} : { provider }), ...(name === undefined ? {} : { name }), ...debug });
    if (sites.length === 0 && !args.json) return explainNoProbes(args, io, provider !== undefined || name !== undefined);
    return printProbes(args, sites, io);
  } finally {
    elf.close();
  }
}

/** `provider:name` → both globs; a bare `name` matches any provider. */
export function splitProbePattern(pattern: string | undefined): [string | undefined, string | undefined] {
  if (pattern === undefined) return [undefined, undefined];
  const colon = pattern.indexOf(":");
  if (colon < 0) return [undefined, pattern];
  return [pattern.slice(0, colon) || "*", pattern.slice(colon + 1) || "*"];
}

function printFunctions(args: ListArgs, symbols: FoundSymbol[], io: CliIo): number {
  if (args.json) {
    io.stdout.write(`${JSON.stringify(symbols.map(symbolToJson), null, 2)}\n`);
  } else if (symbols.length > 0) {
    io.stdout.write(
      renderTable(
        [{ header: "FUNCTION" }, { header: "ADDRESS", align: "right" }, { header: "OFFSET", align: "right" }, { header: "SIZE", align: "right" }, { header: "TYPE" }, { header: "BIND" }],
        symbols.map((s) => [displayName(s), hex(s.address), hex(s.fileOffset), String(s.size), s.type, s.binding]),
      ),
    );
  } else {
    io.stderr.write(`probec: no function in ${args.target} matches "${args.pattern ?? "*"}"\n`);
  }
  return symbols.length > 0 ? EXIT.ok : EXIT.noMatch;
}

function printProbes(args: ListArgs, sites: UsdtSite[], io: CliIo): number {
  if (args.json) {
    io.stdout.write(`${JSON.stringify(sites.map(usdtSiteToJson), null, 2)}\n`);
    return sites.length > 0 ? EXIT.ok : EXIT.noMatch;
  }
  io.stdout.write(
    renderTable(
      [{ header: "PROBE" }, { header: "ADDRESS", align: "right" }, { header: "OFFSET", align: "right" }, { header: "SEM.OFFSET", align: "right" }, { header: "ARGUMENTS" }],
      sites.map((s) => [`${s.provider}:${s.name}`, hex(s.address), hex(s.fileOffset), s.semaphoreOffset === undefined ? "-" : hex(s.semaphoreOffset), describeArgs(s)]),
    ),
  );
  return EXIT.ok;
}

/** The note's own argument items, with undecodable ones marked `!` so they are not mistaken for readable ones. */
function describeArgs(site: UsdtSite): string {
  if (site.args.length === 0) return "-";
  return site.args.map((a) => (a.kind === "unsupported" ? `!${a.spec}` : a.spec)).join(" ");
}

function displayName(s: FoundSymbol): string {
  if (s.version === null) return s.name;
  return `${s.name}${s.isDefaultVersion ? "@@" : "@"}${s.version}`;
}

async function explainNoProbes(args: ListArgs, io: CliIo, filtered: boolean): Promise<number> {
  const any = filtered ? await findUsdt(args.target) : [];
  if (any.length > 0) {
    const names = [...new Set(any.map((s) => `${s.provider}:${s.name}`))].sort();
    io.stderr.write(`probec: no USDT probe in ${args.target} matches "${args.pattern ?? "*"}"\n`);
    io.stderr.write(`  hint: probes that exist: ${names.slice(0, 10).join(", ")}${names.length > 10 ? `, … (${names.length} in all)` : ""}\n`);
  } else {
    io.stderr.write(`probec: ${args.target} has no USDT probes\n`);
    io.stderr.write(`  hint: list its functions instead: probec list ${args.target} --functions\n`);
  }
  return EXIT.noMatch;
}
