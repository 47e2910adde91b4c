/**
 * One error hierarchy for all of probec.
 *
 * Every error has a stable `code` so that callers (and the CLI) can tell
 * "absent" from "malformed" from "you asked for something impossible"
 * without matching on message text. Messages follow one shape:
 * lowercase context first, then the problem, then (where there is one) the
 * fix: `libfoo.so: symbol "zoo_set" not found; did you mean "zoo_set2"?`.
 *
 * This module imports nothing, so the pure core (`elf/`, `usdt/`) may use it.
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  | "E_FORMAT" // the bytes are not a valid ELF / note / table
  | "E_NOT_FOUND" // a symbol, section, probe or file is absent
  | "E_AMBIGUOUS" // a name matches several different things
  | "E_IFUNC" // a symbol is an STT_GNU_IFUNC resolver
  | "E_LIMIT" // a hostile-input cap was hit
  | "E_IO" // the operating system refused (missing file, permission, directory)
  | "E_USAGE" // the caller asked for something malformed
  | "E_ATTACH" // the native attacher could not be found, run, or attach
  | "E_INTERNAL"; // a bug in probec

/** Base class of every error probec throws on purpose. */
export class ProbecError extends Error {
  /** Stable code, see {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** Suggestions the user can act on, printed under the message by the CLI. */
  readonly hints: readonly string[];

  constructor(code: ErrorCode, message: string, options?: { hints?: readonly string[]; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hints = options?.hints ?? [];
  }
}

/**
 * The input bytes are malformed. Carries the byte offset at which the
 * problem was seen and the offending value, as Go's `debug/elf.FormatError` does.
 */
export class FormatError extends ProbecError {
  /** Byte offset in the file (or in the section, when `what` says so). */
  readonly offset: number;
  /** The bad value, when there is one. */
  readonly value: bigint | number | string | undefined;

  /** @param showOffset false for problems where an offset would only distract ("not an ELF file"). */
  constructor(message: string, offset: number, value?: bigint | number | string, showOffset = true) {
    const shown = value === undefined ? "" : `: ${formatValue(value)}`;
    super("E_FORMAT", showOffset ? `${message} at offset 0x${offset.toString(16)}${shown}` : `${message}${shown}`);
    this.offset = offset;
    this.value = value;
  }
}

/** Something that was looked for is absent: not an error in the file itself. */
export class NotFoundError extends ProbecError {
  constructor(message: string, hints?: readonly string[]) {
    super("E_NOT_FOUND", message, hints === undefined ? undefined : { hints });
  }
}

/** A name matched several different definitions; the message lists them all. */
export class AmbiguousError extends ProbecError {
  /** Human-readable description of each candidate. */
  readonly candidates: readonly string[];
  constructor(message: string, candidates: readonly string[], hints?: readonly string[]) {
    super("E_AMBIGUOUS", `${message}: ${candidates.join(", ")}`, hints === undefined ? undefined : { hints });
    this.candidates = candidates;
  }
}

/**
 * The symbol is an `STT_GNU_IFUNC`: its address is the resolver, which runs
 * once at load time, so a probe there would (almost) never fire.
 */
export class IfuncError extends ProbecError {
  /** Implementations in the same file that the resolver may choose. */
  readonly candidates: readonly string[];
  constructor(message: string, candidates: readonly string[], hints?: readonly string[]) {
    super("E_IFUNC", message, hints === undefined ? undefined : { hints });
    this.candidates = candidates;
  }
}

/** A hostile-input cap (size, count, depth) was reached; the message names the limit. */
export class LimitError extends ProbecError {
  constructor(message: string) {
    super("E_LIMIT", message);
  }
}

/** The operating system refused an operation (missing file, permission, not a regular file). */
export class IoError extends ProbecError {
  /** The errno code (`ENOENT`, `EACCES`, …) when the OS gave one. */
  readonly errno: string | undefined;
  constructor(message: string, errno?: string, hints?: readonly string[]) {
    super("E_IO", message, hints === undefined ? undefined : { hints });
    this.errno = errno;
  }
}

/** The caller's request is malformed (bad pattern, bad option). */
export class UsageError extends ProbecError {
  constructor(message: string, hints?: readonly string[]) {
    super("E_USAGE", message, hints === undefined ? undefined : { hints });
  }
}

/**
 * Attaching failed: the native helper `probec-attach` could not be found or
 * run, refused the plan, or died. The message names what failed; the hints
 * say how to fix it (build the helper, install its build dependencies, run
 * with the privileges BPF needs).
 */
export class AttachError extends ProbecError {
  constructor(message: string, hints?: readonly string[]) {
    super("E_ATTACH", message, hints === undefined ? undefined : { hints });
  }
}

/**
 * An impossible state: something probec's own checks should have ruled out
 * (an expression the semantic pass should have rejected, a table entry that
 * cannot exist). It is never the user's input, so the CLI does not blame the
 * input: it exits 3 and asks for a report with the versions, as changesets'
 * `InternalError` does.
 */
export class InternalError extends ProbecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_INTERNAL", message, options);
  }
}

/** Prefixes an error's message with context (usually a file name), keeping its class and code. */
export function withContext<E extends ProbecError>(error: E, context: string): E {
  if (!error.message.startsWith(`${context}: `)) {
    error.message = `${context}: ${error.message}`;
  }
  return error;
}

/**
 * The error to re-throw from an operation on `file`: problems with the file
 * get its name as context; a {@link UsageError} is about the request (a bad
 * pattern), not the file, and passes through unchanged.
 */
export function inFile(error: unknown, file: string): unknown {
  return error instanceof ProbecError && !(error instanceof UsageError) ? withContext(error, file) : error;
}

function formatValue(value: bigint | number | string): string {
  if (typeof value === "string") return JSON.stringify(value);
  return `0x${value.toString(16)}`;
}
