/**
 * Files the user named on the command line (a probe file, a saved plan, an
 * output file): one place for the message a missing or unwritable file gets.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { IoError } from "../index.js";

/** The file's text; an IoError naming the file (and "no such <what>" for ENOENT) otherwise. */
export function readTextArgument(file: string, what = "file"): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new IoError(`${file}: ${code === "ENOENT" ? `no such ${what}` : (error as Error).message}`, code);
  }
}

/** Writes `text` to the file; an IoError naming the file otherwise. */
export function writeTextArgument(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (error) {
    throw new IoError(`${file}: ${(error as Error).message}`, (error as NodeJS.ErrnoException).code);
  }
}
