/**
 * Is this the file we planned for? File identity for container targets.
 *
 * On overlayfs every container's merged view has its own `st_dev`, while
 * `st_ino` is the inode of the layer that holds the file; after a copy-up the
 * same path names a different file (PITFALLS 20, 21). So identity is
 * `dev`/`ino`/`size`/`mtime` for "is it still the same inode here", and
 * content (the GNU build-id, else size plus SHA-256) for "is it the same
 * code": never the device alone.
 *
 * Each file is opened once; its stat, build-id and hash all come from that
 * one open file, so a rename in between cannot mix two files' answers.
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, readSync, type BigIntStats } from "node:fs";
import { ElfFile } from "../elf/elf-file.js";
import { IoError, LimitError } from "../errors.js";
import { FileSource, openReadOnly } from "../io/file-source.js";
import type { FileIdentity } from "../rootfs/resolve.js";

/**
 * Largest file {@link sameContent} hashes (256 MiB). Container files are
 * hostile input (PITFALLS 24): without a build-id, a bigger file is refused
 * with a {@link LimitError} rather than read for minutes.
 */
export const MAX_HASH_BYTES = 256 * 1024 * 1024;

/** {@link FileIdentity} plus the GNU build-id. */
export interface ContentIdentity extends FileIdentity {
  /** The GNU build-id as lower-case hex; undefined for a non-ELF file or an ELF file without one. */
  buildId: string | undefined;
}

/** Options for {@link sameContent}. */
export interface SameContentOptions {
  /** Refuse to hash files larger than this (default {@link MAX_HASH_BYTES}). */
  maxHashBytes?: number;
}

/**
 * The identity of the file at `hostPath` (followed, so `/proc/self/fd/N` and
 * resolved container paths both work). A file that is not ELF has no
 * build-id; an ELF file whose headers are malformed throws the
 * {@link FormatError} that says why.
 */
export function fileIdentity(hostPath: string): ContentIdentity {
  return withOpenFile(hostPath, (fd, stat) => ({ ...identityOf(stat), buildId: buildIdOf(hostPath, fd) }));
}

/**
 * True when the two files hold the same code: equal build-ids, or (when
 * neither has one) equal size and SHA-256. The same inode on the same device
 * is trivially the same content. Never decided by the device alone.
 *
 * A build-id on one side only means different files (a stripped copy keeps
 * its build-id, so that case does not arise from stripping). Throws a
 * {@link LimitError} when hashing is needed and a file is larger than
 * `options.maxHashBytes`.
 */
export function sameContent(a: string, b: string, options: SameContentOptions = {}): boolean {
  const maxBytes = options.maxHashBytes ?? MAX_HASH_BYTES;
  return withOpenFile(a, (fdA, statA) =>
    withOpenFile(b, (fdB, statB) => {
      if (statA.dev === statB.dev && statA.ino === statB.ino) return true;
      const idA = buildIdOf(a, fdA);
      const idB = buildIdOf(b, fdB);
      if (idA !== undefined || idB !== undefined) return idA === idB;
      if (statA.size !== statB.size) return false;
      return sha256(a, fdA, statA.size, maxBytes) === sha256(b, fdB, statB.size, maxBytes);
    }),
  );
}

function identityOf(stat: BigIntStats): FileIdentity {
  return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs };
}

/** Opens `path` read-only, checks it is a regular file, and hands `fn` the fd and its stat. */
function withOpenFile<T>(path: string, fn: (fd: number, stat: BigIntStats) => T): T {
  const fd = openReadOnly(path);
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) throw new IoError(`${path}: is not a regular file`, stat.isDirectory() ? "EISDIR" : "EINVAL");
    return fn(fd, stat);
  } finally {
    closeSync(fd);
  }
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** The build-id of the file open as `fd`, or undefined when it is not ELF or has none. */
function buildIdOf(name: string, fd: number): string | undefined {
  const magic = new Uint8Array(4);
  if (readSync(fd, magic, 0, 4, 0) < 4 || ELF_MAGIC.some((byte, i) => magic[i] !== byte)) return undefined;
  // Reopening through /proc/self/fd/N reaches exactly the inode we hold, whatever has been renamed since.
  const elf = ElfFile.open(FileSource.open(`/proc/self/fd/${fd}`), name);
  try {
    return elf.buildId();
  } finally {
    elf.close();
  }
}

function sha256(name: string, fd: number, size: bigint, maxBytes: number): string {
  if (size > BigInt(maxBytes)) {
    throw new LimitError(`${name}: ${size} bytes, more than the ${maxBytes} this tool hashes to compare files without a build-id`);
  }
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1024 * 1024);
  let offset = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, offset);
    if (n === 0) break;
    offset += n;
    if (offset > maxBytes) throw new LimitError(`${name}: grew past ${maxBytes} bytes while being hashed`);
    hash.update(chunk.subarray(0, n));
  }
  return hash.digest("hex");
}
