/**
 * Reading a file the user named on the command line (a probe file, a saved
 * plan): one place for the message a missing or unreadable file gets.
 */
import { readFileSync } from "node:fs";
import { IoError } from "../index.js";

/** The file's text; an IoError naming the file (and "no such file" for ENOENT) otherwise. */
export function readTextArgument(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new IoError(`${file}: ${code === "ENOENT" ? "no such file" : (error as Error).message}`, code);
  }
}
