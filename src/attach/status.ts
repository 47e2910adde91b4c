/**
 * The helper's status messages (native/PROTOCOL.md, "Status messages"):
 * JSON objects with a `type`, parsed and checked just enough that the rest
 * of src/attach/ can rely on the members it reads.
 */
import { AttachError } from "../errors.js";

/** Every status type the protocol defines, in the order they can appear. */
export const STATUS_TYPES = [
  "hello",
  "layout",
  "attached",
  "failed",
  "ready",
  "lost",
  "stackProcess",
  "aggregate",
  "aggregatesDone",
  "targetExited",
  "error",
  "detached",
  "added",
  "removed",
  "filtered",
  "rejected",
  "reported",
] as const;

/** The replies to `--follow`'s commands (native/PROTOCOL.md, "Commands"): each carries the command's `id`. */
export const COMMAND_REPLY_TYPES: readonly string[] = ["added", "removed", "filtered", "rejected", "reported"];

/** A status message as the helper sent it: its `type` and the members native/PROTOCOL.md lists for it. */
export type AttachStatus = { type: (typeof STATUS_TYPES)[number]; [member: string]: unknown };

/** One field of an entry's event layout. */
export interface LayoutField {
  /** The field's name, as in the plan's program. */
  readonly name: string;
  /**
   * `int`: an 8-byte slot; `string`: a NUL-terminated slot; `stack`: a
   * `ustack` slot (a u64 count of frames, then that many return addresses,
   * innermost first); `header`: no slot (comm from the event header,
   * container from the plan).
   */
  readonly type: "int" | "string" | "stack" | "header";
  /** Byte offset of the slot in the event (unused for `header`). */
  readonly offset: number;
  /** Bytes of the slot (0 for `header`). */
  readonly size: number;
}

/** A `layout` status: how one entry's events are laid out. */
export interface LayoutStatus {
  readonly type: "layout";
  readonly entry: number;
  readonly eventSize: number;
  readonly fields: readonly LayoutField[];
}

/** Parses one status frame's payload. Throws an {@link AttachError} naming what is wrong. */
export function parseStatus(payload: Buffer): AttachStatus {
  const text = payload.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw protocolError(`a status frame is not JSON (${(error as Error).message}): ${preview(text)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw protocolError(`a status frame is not a JSON object: ${preview(text)}`);
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string" || !(STATUS_TYPES as readonly string[]).includes(type)) {
    throw protocolError(`unknown status type ${JSON.stringify(type)}: ${preview(text)}`);
  }
  return value as AttachStatus;
}

/** Checks a `layout` status's members; throws an {@link AttachError} naming the bad member. */
export function checkLayout(status: AttachStatus): LayoutStatus {
  const where = `layout of entry ${String(status.entry)}`;
  if (!isCount(status.entry)) throw protocolError(`a layout status has no valid entry index: ${JSON.stringify(status)}`);
  if (!isCount(status.eventSize)) throw protocolError(`${where}: eventSize is not a byte count`);
  if (!Array.isArray(status.fields)) throw protocolError(`${where}: fields is not an array`);
  const fields = status.fields.map((f: unknown, i): LayoutField => {
    const field = f as Partial<LayoutField> | null;
    if (typeof field !== "object" || field === null || typeof field.name !== "string") throw protocolError(`${where}: field ${i} has no name`);
    if (field.type !== "int" && field.type !== "string" && field.type !== "stack" && field.type !== "header")
      throw protocolError(`${where}: field "${field.name}" has type ${JSON.stringify(field.type)}`);
    const offset = field.type === "header" ? 0 : field.offset;
    const size = field.type === "header" ? 0 : field.size;
    if (!isCount(offset) || !isCount(size)) throw protocolError(`${where}: field "${field.name}" has no valid offset and size`);
    return { name: field.name, type: field.type, offset, size };
  });
  return { type: "layout", entry: status.entry, eventSize: status.eventSize, fields };
}

/** An error in what the helper sent: the two sides disagree about native/PROTOCOL.md. */
export function protocolError(problem: string): AttachError {
  return new AttachError(`probec-attach output: ${problem}`, [
    "rebuild the helper from this probec (npm run build:native) so that both follow native/PROTOCOL.md",
  ]);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function preview(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
