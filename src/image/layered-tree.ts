/**
 * The merged root filesystem of an image's layers, read without extracting
 * the image, in two passes over the layers:
 *
 * 1. index: every layer is streamed once (decompressed as it goes) and its
 *    entries applied to a {@link MergedIndex}; of each regular file only the
 *    first {@link ELF_HEAD_BYTES} are looked at (its ELF identity and
 *    `PT_INTERP`), and the loader's small configuration files
 *    (`/etc/ld.so.cache`, `/etc/ld-musl-*.path`) are kept whole;
 * 2. fetch: the files the checks need are read from the layers that hold
 *    them. A file in an uncompressed layer is read in place (a byte range of
 *    the archive); one in a compressed layer is streamed into a temporary
 *    file, the stream stopped after the last file wanted from that layer,
 *    and the temporary space bounded by {@link LayeredTreeOptions.maxTempBytes}.
 *
 * Memory stays bounded by the index (a few hundred bytes per path) and the
 * stream buffers, whatever the image's size.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";
import { InternalError, IoError, LimitError, NotFoundError, ProbecError, withContext } from "../errors.js";
import type { ByteSource } from "../io/byte-source.js";
import { FileSource } from "../io/file-source.js";
import { SliceSource } from "../io/slice-source.js";
import { walkInRoot, type WalkFs } from "../rootfs/walk.js";
import { declaredCompression, detectCompression, tarBytes, type Compression } from "./decompress.js";
import { ELF_HEAD_BYTES, elfIdent, type ElfIdent } from "./elf-ident.js";
import type { ImageConfig, SelectedImage } from "./layout.js";
import { MergedIndex, canonicalComponents, type ImageNode } from "./merge.js";
import type { ImageStore } from "./store.js";
import type { TarHeader } from "./tar-header.js";
import { TarStream } from "./tar-stream.js";
import type { Expect, ImageTree } from "./tree.js";

/** Options for {@link openLayeredTree}. */
export interface LayeredTreeOptions {
  /** Most bytes written to temporary files for files of compressed layers (default 2 GiB). */
  readonly maxTempBytes?: number;
  /** Where the temporary directory is made (default the OS's). */
  readonly tempDir?: string;
  /**
   * Files likely to be needed (absolute paths in the image), copied out of
   * compressed layers while they stream past in the first pass, so that
   * the layer need not be read a second time. A guess: a file it misses is
   * fetched later, and one it takes needlessly costs only temporary space.
   */
  readonly prefetch?: (config: ImageConfig) => (path: string) => boolean;
}

/** Default of {@link LayeredTreeOptions.maxTempBytes}. */
export const DEFAULT_MAX_TEMP_BYTES = 2 * 1024 * 1024 * 1024;
/** Layers decompressed at the same time in the first pass. */
const LAYER_CONCURRENCY = 3;
/** Largest loader configuration file kept whole while indexing. */
const MAX_SMALL_FILE = 16 * 1024 * 1024;
/** Most bytes of loader files kept whole while indexing, over all layers (a crafted image may hold thousands). */
const MAX_SMALL_BYTES = 16 * 1024 * 1024;
/** Most bytes of member names held for layers waiting for a lower one (an entry costs its names and 64 bytes). */
const MAX_HELD_NAME_BYTES = 128 * 1024 * 1024;
/** Files kept whole while indexing: what library resolution reads (src/rootfs). */
const SMALL_FILE = /^etc\/(ld\.so\.cache|ld-musl-[A-Za-z0-9_]+\.path)$/;

/** A layer entry as the first pass saw it, before it is applied. */
interface ScannedEntry {
  readonly header: TarHeader;
  elf: ElfIdent | undefined;
  small: Uint8Array | undefined;
}

/** Indexes the layers of `image` (pass 1) and returns the tree. */
export async function openLayeredTree(store: ImageStore, image: SelectedImage, options: LayeredTreeOptions = {}): Promise<ImageTree> {
  const compressions = image.layers.map((layer) => detectCompression(store.source(layer.location), layer.location, layer.mediaType));
  const tree = new LayeredTree(store, image, compressions, options);
  for (const [i, layer] of image.layers.entries()) {
    const declared = declaredCompression(layer.mediaType);
    if (declared !== undefined && declared !== compressions[i]) {
      tree.notes.push(
        `${layer.location.what}: its media type ${layer.mediaType ?? ""} says ${declared}, its bytes are ${compressions[i] === "none" ? "an uncompressed tar" : compressions[i]}; read as the bytes say`,
      );
    }
  }
  try {
    await tree.index(options.prefetch?.(image.config));
  } catch (error) {
    tree.close();
    throw error;
  }
  return tree;
}

async function readRest(head: Uint8Array, tar: TarStream, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  for await (const chunk of tar.body()) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

class LayeredTree implements ImageTree {
  readonly label: string;
  readonly config: SelectedImage["config"];
  readonly platform: string;
  readonly platforms: readonly string[];
  readonly layout: "oci" | "docker";
  readonly #store: ImageStore;
  readonly #image: SelectedImage;
  readonly #index = new MergedIndex();
  readonly #compressions: readonly Compression[];
  readonly #maxTemp: number;
  readonly #tempDir: string | undefined;
  #temp: tmp.DirResult | undefined;
  #tempBytes = 0;
  #smallBytes = 0;
  #closed = false;
  #tempFiles = 0;
  /** Fetched files: content key → reader. */
  readonly #sources = new Map<string, ByteSource>();

  constructor(store: ImageStore, image: SelectedImage, compressions: readonly Compression[], options: LayeredTreeOptions) {
    this.label = store.what;
    this.config = image.config;
    this.platform = image.platform;
    this.platforms = image.platforms;
    this.layout = image.layout;
    this.#store = store;
    this.#image = image;
    this.#compressions = compressions;
    this.#maxTemp = options.maxTempBytes ?? DEFAULT_MAX_TEMP_BYTES;
    this.#tempDir = options.tempDir;
  }

  /**
   * Pass 1: every layer streamed once, a few at a time (each decompresses
   * on its own libuv thread), likely files copied out on the way. Entries
   * are applied to the merged index in layer order as they come: those of
   * the lowest layer not yet applied at once, those of the layers above it
   * held until it is done. A worker does not start a layer more than
   * {@link LAYER_CONCURRENCY} above that one, so at most that many layers'
   * entries wait, and their names are capped ({@link MAX_HELD_NAME_BYTES}).
   *
   * When one layer fails the others are stopped (their streams closed), and
   * the error is thrown only once every worker has returned: nothing may
   * write to the temporary directory after the caller has closed the tree.
   */
  async index(prefetch: ((path: string) => boolean) | undefined): Promise<void> {
    const count = this.#image.layers.length;
    const held: ScannedEntry[][] = Array.from({ length: count }, () => []);
    const finished: boolean[] = Array.from({ length: count }, () => false);
    const streams = new Set<TarStream>();
    let heldBytes = 0;
    let applying = 0;
    let failed = false;
    let firstError: unknown;
    let waiting: (() => void)[] = [];
    const wake = (): void => {
      const ready = waiting;
      waiting = [];
      for (const resolve of ready) resolve();
    };
    const apply = (entry: ScannedEntry, i: number): void => {
      let applied: ReturnType<MergedIndex["apply"]>;
      try {
        applied = this.#index.apply(entry.header, i);
      } catch (error) {
        // The merge knows layers by number only: name the image too.
        throw error instanceof ProbecError ? withContext(error, this.label) : error;
      }
      if (applied?.node.kind === "file" && entry.header.kind === "file") {
        applied.node.elf = entry.elf;
        applied.node.small = entry.small;
      }
    };
    const sink = (entry: ScannedEntry, i: number): void => {
      if (i === applying) {
        apply(entry, i);
        return;
      }
      heldBytes += entry.header.name.length + entry.header.linkname.length + 64;
      if (heldBytes > MAX_HELD_NAME_BYTES) {
        throw new LimitError(
          `${this.label}: more than ${MAX_HELD_NAME_BYTES} bytes of member names waiting for layer ${applying + 1} to be read (the layers above it hold too many or too long names)`,
        );
      }
      (held[i] as ScannedEntry[]).push(entry);
    };
    const layerDone = (i: number): void => {
      finished[i] = true;
      while (applying < count && finished[applying]) {
        applying += 1;
        if (applying >= count) break;
        for (const entry of held[applying] as ScannedEntry[]) {
          heldBytes -= entry.header.name.length + entry.header.linkname.length + 64;
          apply(entry, applying);
        }
        held[applying] = [];
      }
      wake();
    };
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= count || failed) return;
        while (i >= applying + LAYER_CONCURRENCY && !failed) await new Promise<void>((resolve) => waiting.push(resolve));
        if (failed) return;
        try {
          await this.#scanLayer(
            i,
            prefetch,
            (entry) => sink(entry, i),
            streams,
            () => failed,
          );
          if (failed) return;
          layerDone(i);
        } catch (error) {
          if (!failed) {
            failed = true;
            firstError = error;
            // Stop the others: their next read ends their scan.
            for (const tar of streams) void tar.close();
            wake();
          }
          // The others' errors are mostly the consequence of being stopped: the first one is the cause.
          return;
        }
      }
    };
    await Promise.allSettled(Array.from({ length: Math.min(LAYER_CONCURRENCY, count) }, worker));
    if (failed) throw firstError;
  }

  /** One layer's entries, passed to `sink` with the ELF identity of each regular file and the loader's small files whole. */
  async #scanLayer(
    i: number,
    prefetch: ((path: string) => boolean) | undefined,
    sink: (entry: ScannedEntry) => void,
    streams: Set<TarStream>,
    stopped: () => boolean,
  ): Promise<void> {
    const layer = this.#image.layers[i] as SelectedImage["layers"][number];
    const compression = this.#compressions[i] as Compression;
    const tar = new TarStream(tarBytes(layer.location, compression), layer.location.what);
    streams.add(tar);
    try {
      for (let header = await tar.next(); header !== undefined && !stopped(); header = await tar.next()) {
        const entry: ScannedEntry = { header, elf: undefined, small: undefined };
        if (header.kind === "file" && header.size > 0) {
          const path = canonicalComponents(header.name).join("/");
          const head = await tar.readHead(ELF_HEAD_BYTES);
          entry.elf = elfIdent(head, header.size);
          if (SMALL_FILE.test(path) && header.size <= MAX_SMALL_FILE && this.#smallBytes + header.size <= MAX_SMALL_BYTES) {
            // Past the budget a loader file is not kept here: the one that counts is fetched like any other file.
            this.#smallBytes += header.size;
            entry.small = await readRest(head, tar, header.size);
          } else if (compression !== "none" && entry.elf !== undefined && prefetch?.(`/${path}`) === true) {
            await this.#copyBody(contentKey(i, header.dataOffset), header.size, head, tar);
          }
        }
        if (!stopped()) sink(entry);
      }
    } finally {
      streams.delete(tar);
      await tar.close();
    }
  }

  /** Notes of the first pass (a media type that disagrees with the bytes). */
  readonly notes: string[] = [];

  get warnings(): readonly string[] {
    return [...this.notes, ...this.#index.warnings];
  }

  resolve(path: string, expect: Expect = "file"): string {
    const where = `${path} in ${this.label}`;
    const index = this.#index;
    const fs: WalkFs<ImageNode> = {
      root: () => index.get("") as ImageNode,
      lstat: (components) => {
        const node = index.get(components.join("/"));
        if (node === undefined) {
          const parent = `/${components.slice(0, -1).join("/")}`;
          throw new NotFoundError(`${where}: ${JSON.stringify(components.at(-1))} not found in ${parent} (looking for ${path})`);
        }
        return node;
      },
      kind: (node) => (node.kind === "directory" ? "directory" : node.kind === "symlink" ? "symlink" : "other"),
      readlink: (components) => {
        const node = index.get(components.join("/"));
        return node?.kind === "symlink" ? node.target : "";
      },
    };
    const walked = walkInRoot(path, fs, where);
    const canonical = `/${walked.components.join("/")}`;
    if (expect === "file" && walked.entry.kind !== "file") {
      throw new IoError(
        `${where}: ${canonical} is ${walked.entry.kind === "directory" ? "a directory" : "not a regular file"}, expected a regular file`,
        "EINVAL",
      );
    }
    if (expect === "directory" && walked.entry.kind !== "directory") throw new IoError(`${where}: ${canonical} is not a directory`, "ENOTDIR");
    return canonical;
  }

  list(path: string): readonly string[] | undefined {
    return this.#index.children(key(path));
  }

  executable(path: string): boolean {
    const node = this.#index.get(key(path));
    return node?.kind === "file" && (node.mode & 0o111) !== 0;
  }

  identify(path: string): ReturnType<ImageTree["identify"]> {
    const node = this.#index.get(key(path));
    return node?.kind === "file" ? node.elf : undefined;
  }

  readSmall(path: string): Uint8Array | undefined {
    const node = this.#index.get(key(path));
    return node?.kind === "file" ? node.small : undefined;
  }

  async fetch(paths: readonly string[]): Promise<void> {
    /** Per compressed layer: data offset → content key, of the files still to copy. */
    const wanted = new Map<number, Map<number, string>>();
    for (const path of paths) {
      const node = this.#index.get(key(path));
      if (node?.kind !== "file") throw new NotFoundError(`${path} in ${this.label}: not a regular file of the image`);
      const content = node.content;
      const id = contentKey(content.layer, content.dataOffset);
      if (this.#sources.has(id)) continue;
      const layer = this.#image.layers[content.layer];
      if (layer === undefined) throw new InternalError(`layer ${content.layer} of a file is not in the image`);
      if (this.#compressions[content.layer] === "none") {
        // In place: the member's data is a byte range of the (uncompressed) blob, itself a range of a file.
        this.#sources.set(id, new SliceSource(this.#store.source(layer.location), layer.location.offset + content.dataOffset, content.size));
        continue;
      }
      const forLayer = wanted.get(content.layer) ?? new Map<number, string>();
      forLayer.set(content.dataOffset, id);
      wanted.set(content.layer, forLayer);
    }
    for (const [layerIndex, offsets] of wanted) await this.#copyOut(layerIndex, offsets);
  }

  /** Streams one compressed layer, copying the wanted members to temporary files, and stops after the last. */
  async #copyOut(layerIndex: number, offsets: Map<number, string>): Promise<void> {
    const layer = this.#image.layers[layerIndex];
    if (layer === undefined) return;
    const tar = new TarStream(tarBytes(layer.location, this.#compressions[layerIndex] as Compression), layer.location.what);
    let left = offsets.size;
    try {
      for (let header = await tar.next(); header !== undefined && left > 0; header = await tar.next()) {
        const id = offsets.get(header.dataOffset);
        if (id === undefined || header.kind !== "file") continue;
        await this.#copyBody(id, header.size, new Uint8Array(0), tar);
        left -= 1;
      }
    } finally {
      await tar.close();
    }
    if (left > 0)
      throw new IoError(
        `${layer.location.what}: ${left} file(s) indexed in the first pass were not found in the second; was the image changed while probec read it?`,
      );
  }

  /** Writes a member's data (`head` already read, the rest from `tar`) to a temporary file, within the byte cap. */
  async #copyBody(id: string, size: number, head: Uint8Array, tar: TarStream): Promise<void> {
    if (this.#sources.has(id)) return;
    if (this.#closed) throw new InternalError(`${this.label}: a file was copied out after the image was closed`);
    if (this.#tempBytes + size > this.#maxTemp) {
      throw new LimitError(`${this.label}: the files to check need more than ${this.#maxTemp} bytes of temporary space (maxTempBytes)`);
    }
    this.#tempBytes += size;
    const dir = (this.#temp ??= tmp.dirSync({
      prefix: "probec-image-",
      unsafeCleanup: true,
      ...(this.#tempDir === undefined ? {} : { tmpdir: this.#tempDir }),
    }));
    const file = join(dir.name, `f${this.#tempFiles++}`);
    const fd = openSync(file, "w", 0o600);
    try {
      if (head.length > 0) writeSync(fd, head);
      for await (const chunk of tar.body()) writeSync(fd, chunk);
    } finally {
      closeSync(fd);
    }
    // A smaller block cache than the default: a check reads a few tables of each of many files.
    this.#sources.set(id, FileSource.open(file, { maxBlocks: 64 }));
  }

  open(path: string): ByteSource {
    const node = this.#index.get(key(path));
    const source = node?.kind === "file" ? this.#sources.get(contentKey(node.content.layer, node.content.dataOffset)) : undefined;
    if (source === undefined) throw new InternalError(`${path}: opened before it was fetched`);
    return source;
  }

  close(): void {
    this.#closed = true;
    for (const source of this.#sources.values()) source.close();
    this.#sources.clear();
    this.#store.close();
    this.#temp?.removeCallback();
    this.#temp = undefined;
  }
}

/** `/usr/lib/x` → `usr/lib/x`, the merged index's key. */
function key(path: string): string {
  return canonicalComponents(path).join("/");
}

function contentKey(layer: number, dataOffset: number): string {
  return `${layer}:${dataOffset}`;
}
