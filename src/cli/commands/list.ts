/**
 * `probec list FILE|TARGET [PATTERN]`: the USDT probes of a file (PATTERN is
 * a `provider:name` glob, or a name glob), or with `--functions` its
 * functions (PATTERN is a name glob). A table, or `--json`.
 *
 * A TARGET (`docker/pg:postgres`, `pid/1234:libc`) is listed in the file its
 * process maps (or would load); a scope alone (`docker/web`) lists every
 * mapped object that has USDT probes (./list-target.ts, loaded only then:
 * container discovery is most of what a file listing would otherwise load,
 * issue 13).
 */
import { existsSync } from "node:fs";
import { type ElfFile, findUsdt, listSymbols, openElf, symbolToJson, usdtSiteToJson, type FoundSymbol, type UsdtSite } from "../../index.js";
import { detectGo, type GoBinaryInfo, hex } from "../internal.js";
import { SCOPE_PREFIXES } from "../../plan/runtimes.js";
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
  if (looksLikeTarget(args.target)) return (await import("./list-target.js")).listTarget(args, io);
  // Open once up front so that a missing or malformed file is reported before any filtering.
  const elf = openElf(args.target);
  try {
    return await listElf(elf, args.target, args, io);
  } finally {
    elf.close();
  }
}

/** `docker/`, `k8s/`, `pid/`, …: a scope kind (src/plan/runtimes.ts) at the start of a target. */
const SCOPE_KIND = new RegExp(`^(${SCOPE_PREFIXES.join("|")})/`);

/**
 * A target names a runtime scope (`docker/…`, `pid/…`, `host`) or has a
 * `:`; anything else is a file path, so that a missing file is reported as
 * one. An existing file always wins.
 */
export function looksLikeTarget(text: string): boolean {
  if (existsSync(text)) return false;
  return text.includes(":") || SCOPE_KIND.test(text) || text === "host";
}

/** Lists one opened file, named `label` in messages. */
export async function listElf(elf: ElfFile, label: string, args: ListArgs, io: CliIo, withFile = false): Promise<number> {
  const onSkip = (path: string, why: string): void => void io.stderr.write(`probec: warning: ignored debug file ${path}: ${why}\n`);
  const debug = { ...(args.debugRoot === undefined ? {} : { debugRoots: args.debugRoot }), onSkip };
  if (args.functions) {
    const symbols = await listSymbols(elf, { ...(args.pattern === undefined ? {} : { pattern: args.pattern }), ...debug });
    return printFunctions(label, args, symbols, io, detectGo(elf));
  }
  const [provider, name] = splitProbePattern(args.pattern);
  const sites = await findUsdt(elf, { ...(provider === undefined ? {} : { provider }), ...(name === undefined ? {} : { name }), ...debug });
  if (sites.length === 0 && !args.json) return explainNoProbes(elf, label, args, io, provider !== undefined || name !== undefined);
  return printProbes(args, sites, io, withFile);
}

/** `provider:name` → both globs; a bare `name` matches any provider. */
export function splitProbePattern(pattern: string | undefined): [string | undefined, string | undefined] {
  if (pattern === undefined) return [undefined, undefined];
  const colon = pattern.indexOf(":");
  if (colon < 0) return [undefined, pattern];
  return [pattern.slice(0, colon) || "*", pattern.slice(colon + 1) || "*"];
}

/** A Go binary's functions carry its Go version and module (`goVersion`, `goModule`) in JSON, and a header line above the table. */
function printFunctions(label: string, args: ListArgs, symbols: FoundSymbol[], io: CliIo, go: GoBinaryInfo | undefined): number {
  if (args.json) {
    const goFields = go === undefined ? {} : { goVersion: go.goVersion ?? null, goModule: go.modulePath ?? null };
    io.stdout.write(
      `${JSON.stringify(
        symbols.map((s) => ({ ...symbolToJson(s), ...goFields })),
        null,
        2,
      )}\n`,
    );
  } else if (symbols.length > 0) {
    if (go !== undefined) io.stdout.write(`${goHeader(go)}\n`);
    io.stdout.write(
      renderTable(
        [
          { header: "FUNCTION" },
          { header: "ADDRESS", align: "right" },
          { header: "OFFSET", align: "right" },
          { header: "SIZE", align: "right" },
          { header: "TYPE" },
          { header: "BIND" },
        ],
        symbols.map((s) => [displayName(s), hex(s.address), hex(s.fileOffset), String(s.size), s.type, s.binding]),
      ),
    );
  } else {
    io.stderr.write(`probec: no function in ${label} matches "${args.pattern ?? "*"}"\n`);
  }
  return symbols.length > 0 ? EXIT.ok : EXIT.noMatch;
}

/** Prints USDT sites as a table (with a FILE column when `withFile`) or JSON. */
export function printProbes(args: ListArgs, sites: UsdtSite[], io: CliIo, withFile: boolean): number {
  if (args.json) {
    io.stdout.write(`${JSON.stringify(sites.map(usdtSiteToJson), null, 2)}\n`);
    return sites.length > 0 ? EXIT.ok : EXIT.noMatch;
  }
  const columns = [
    { header: "PROBE" },
    { header: "ADDRESS", align: "right" as const },
    { header: "OFFSET", align: "right" as const },
    { header: "SEM.OFFSET", align: "right" as const },
    { header: "ARGUMENTS" },
  ];
  const row = (s: UsdtSite): string[] => [
    `${s.provider}:${s.name}`,
    hex(s.address),
    hex(s.fileOffset),
    s.semaphoreOffset === undefined ? "-" : hex(s.semaphoreOffset),
    describeArgs(s),
  ];
  io.stdout.write(
    withFile
      ? renderTable(
          [{ header: "FILE" }, ...columns],
          sites.map((s) => [s.file, ...row(s)]),
        )
      : renderTable(columns, sites.map(row)),
  );
  return EXIT.ok;
}

/** The note's own argument items, with undecodable ones marked `!` so they are not mistaken for readable ones. */
function describeArgs(site: UsdtSite): string {
  if (site.args.length === 0) return "-";
  return site.args.map((a) => (a.kind === "unsupported" ? `!${a.spec}` : a.spec)).join(" ");
}

/** `Go go1.19.8, module example.com/app (pclntab 1.18, ABIInternal)`. */
function goHeader(go: GoBinaryInfo): string {
  const details = [go.pclntabVersion === undefined ? undefined : `pclntab ${go.pclntabVersion}`, go.abi].filter((d) => d !== undefined);
  return `Go ${go.goVersion ?? "(version unknown)"}, module ${go.modulePath ?? "(unknown)"} (${details.join(", ")})`;
}

function displayName(s: FoundSymbol): string {
  if (s.version === null) return s.name;
  return `${s.name}${s.isDefaultVersion ? "@@" : "@"}${s.version}`;
}

async function explainNoProbes(elf: ElfFile, label: string, args: ListArgs, io: CliIo, filtered: boolean): Promise<number> {
  const any = filtered ? await findUsdt(elf) : [];
  if (any.length > 0) {
    const names = [...new Set(any.map((s) => `${s.provider}:${s.name}`))].sort();
    io.stderr.write(`probec: no USDT probe in ${label} matches "${args.pattern ?? "*"}"\n`);
    io.stderr.write(`  hint: probes that exist: ${names.slice(0, 10).join(", ")}${names.length > 10 ? `, … (${names.length} in all)` : ""}\n`);
  } else {
    io.stderr.write(`probec: ${label} has no USDT probes\n`);
    io.stderr.write(`  hint: list its functions instead: probec list ${label} --functions\n`);
  }
  return EXIT.noMatch;
}
