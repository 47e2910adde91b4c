/**
 * The header of every bench run: the machine and the version of every tool
 * measured, so that figures from two runs can be compared honestly.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { VERSION } from "../src/version.js";

/** First line of `command args` (stdout or stderr), or "not installed". */
function versionOf(command: string, ...args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  if (r.error !== undefined) return "not installed";
  return `${r.stdout}${r.stderr}`.trim().split("\n")[0] ?? "?";
}

/** A Debian package's version, or "not installed" (tplist-bpfcc has no --version). */
function debianVersion(name: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${Version} is dpkg-query's own format field, not a JS template.
  const r = spawnSync("dpkg-query", ["-W", "-f=${Version}", name], { encoding: "utf8" });
  return r.status === 0 && r.stdout !== "" ? `${name} ${r.stdout}` : "not installed";
}

function elfinfoVersion(): string {
  const manifest = new URL("../../node_modules/elfinfo/package.json", import.meta.url);
  return existsSync(manifest) ? `elfinfo ${(JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version}` : "not installed (npm ci)";
}

/** Prints CPU model, cores, memory, kernel and tool versions. */
export function printMachine(print: (line: string) => void): void {
  const cpu = cpus();
  print(`probec bench — ${new Date().toISOString()}`);
  print(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`);
  print(`probec ${VERSION} (dist), node ${process.version}`);
  print(
    `peers:   ${versionOf("readelf", "--version")}; ${versionOf("bpftrace", "--version")}; tplist-bpfcc from ${debianVersion("bpfcc-tools")}; ${elfinfoVersion()}`,
  );
  print(loadLine());
  print(`helpers: ${versionOf(existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3", "--version")} (spawn-stats.py: peers' ru_maxrss and rchar)`);
}

/** Reads `path` once in 1 MiB pieces so that every tool starts with it in the page cache ("page cache warm"). */
export function warmPageCache(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, "r");
  const buffer = new Uint8Array(1 << 20);
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * The 1/5/15-minute load averages, with a warning when other work shares
 * the CPUs: wall times (p90 most of all) then measure the neighbours too,
 * and `min` is the figure least disturbed by them.
 */
export function loadLine(): string {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  const busy = one > cpus().length / 2 ? " — other processes are using the CPUs: compare min and median, not p90" : "";
  return `load average: ${one.toFixed(2)} ${five.toFixed(2)} ${fifteen.toFixed(2)}${busy}`;
}
