/**
 * A container's log as `kubectl logs` shows it: the kubelet reads the file
 * the CRI runtime writes for each container (`log_directory`/`log_path`),
 * whose lines are `TIMESTAMP STREAM TAG MESSAGE` (CRI "container logging":
 * STREAM is stdout or stderr, TAG `F` for a full line or `P` for a part of
 * one that continues on the next record of the same stream).
 */
import { existsSync, readFileSync } from "node:fs";

/** One line the container wrote. */
export interface LogLine {
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}

/** The complete lines in CRI log file `file` so far (none when it does not exist yet). */
export function readCriLog(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  const lines: LogLine[] = [];
  const partial: Record<string, string> = { stdout: "", stderr: "" };
  for (const record of readFileSync(file, "utf8").split("\n")) {
    const m = /^\S+ (stdout|stderr) ([PF]) (.*)$/.exec(record);
    if (m === null) continue; // the last, unterminated record
    const stream = m[1] as LogLine["stream"];
    partial[stream] += m[3]!;
    if (m[2] === "F") {
      lines.push({ stream, text: partial[stream]! });
      partial[stream] = "";
    }
  }
  return lines;
}

/** The stdout lines of `file` that are JSON objects, parsed (what `probec run --json` prints). */
export function jsonLines(file: string): Record<string, unknown>[] {
  return readCriLog(file)
    .filter((l) => l.stream === "stdout" && l.text.startsWith("{"))
    .map((l) => JSON.parse(l.text) as Record<string, unknown>);
}

/** Polls `read` every 50 ms until it returns a value other than undefined, or throws with `what` and `context()` after `timeoutMs`. */
export async function waitUntil<T>(read: () => T | undefined, what: string, context: () => string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
