/**
 * The members of an uncompressed tar *file*, read by position: one header
 * block per member, data skipped by seeking, so indexing a 200 MB
 * `docker save` archive reads a few kilobytes. Each member's data is then a
 * byte range of the file, readable in place (a layer blob, a config JSON).
 */
import { FormatError, LimitError } from "../errors.js";
import { readRange, type ByteSource } from "../io/byte-source.js";
import { BLOCK, MAX_TAR_ENTRIES, PendingExtensions, isMetaType, metaSize, paddedSize, parseHeaderBlock, type TarHeader } from "./tar-header.js";

/** Every member of the tar in `source`, in archive order. */
export function indexTarFile(source: ByteSource, what: string): TarHeader[] {
  const members: TarHeader[] = [];
  const extensions = new PendingExtensions();
  let offset = 0;
  let entries = 0;
  while (offset + BLOCK <= source.size) {
    const parsed = parseHeaderBlock(readRange(source, offset, BLOCK, `${what}: tar header`), offset, what);
    if (parsed.end) return members;
    entries += 1;
    if (entries > MAX_TAR_ENTRIES) throw new LimitError(`${what}: more than ${MAX_TAR_ENTRIES} tar entries`);
    const raw = parsed.raw;
    if (isMetaType(raw.typeflag)) {
      const size = metaSize(raw, offset, what);
      extensions.add(raw, readRange(source, offset + BLOCK, size, `${what}: tar extension record`), offset, what);
      offset += BLOCK + paddedSize(size);
      continue;
    }
    const header = extensions.finish(raw, offset);
    if (header.dataOffset + header.size > source.size) {
      throw new FormatError(`${what}: truncated tar archive (member ${JSON.stringify(header.name)} needs ${header.size} bytes)`, offset);
    }
    members.push(header);
    offset = header.dataOffset + paddedSize(header.size);
  }
  if (offset < source.size) throw new FormatError(`${what}: truncated tar archive (the file ends inside a header)`, offset);
  return members;
}
