/**
 * The image's filesystem as its layers stack up, without extracting it: a
 * map from path to the layer member that provides it, built by applying
 * each layer's entries in order the way overlayfs and `docker load` do
 * (OCI image spec, "Applying Changesets"):
 *
 * - an entry adds or replaces its path; a non-directory replacing a
 *   directory removes everything under it;
 * - `.wh.NAME` deletes NAME (and all under it) from the layers below;
 * - `.wh..wh..opq` in a directory hides every lower-layer child of that
 *   directory (entries of the same layer stay, whatever their order);
 * - a hard link shares its target's data: it points at the member that
 *   holds the bytes;
 * - parents an archive leaves implicit become directories.
 *
 * Paths are kept as canonical components joined by `/` without a leading
 * slash (`usr/lib/libc.so.6`); `.` is dropped and `..` clamped at the root,
 * so no member name can reach outside the image (PITFALLS 24).
 */
import { LimitError } from "../errors.js";
import type { ElfIdent } from "./elf-ident.js";
import { MAX_NAME, type TarHeader } from "./tar-header.js";

/** Where a regular file's bytes are: member data in one layer's tar stream. */
export interface ContentRef {
  /** Index of the layer, bottom first. */
  readonly layer: number;
  /** Offset of the data in the layer's (decompressed) tar stream. */
  readonly dataOffset: number;
  readonly size: number;
}

/** One path of the merged image. */
export type ImageNode =
  | { readonly kind: "directory"; readonly layer: number }
  | { readonly kind: "symlink"; readonly layer: number; readonly target: string }
  | {
      readonly kind: "file";
      readonly layer: number;
      readonly content: ContentRef;
      readonly mode: number;
      elf: ElfIdent | undefined;
      small: Uint8Array | undefined;
    }
  | { readonly kind: "other"; readonly layer: number };

/** Longest member name or link target (tar-header.ts); bounds the depth of the tree too. */
export { MAX_NAME };
/** Most paths the merged index holds (the image is hostile input). */
export const MAX_IMAGE_PATHS = 2_000_000;

/** Most bytes of paths the merged index holds (a real image holds tens of MiB). */
export const MAX_IMAGE_PATH_BYTES = 256 * 1024 * 1024;
/** Most symlinks followed resolving one member's parent: Linux's limit before ELOOP. */
const MAX_SYMLINK_HOPS = 40;

/** What {@link MergedIndex.apply} did with one entry. */
export type Applied = { readonly path: string; readonly node: ImageNode } | undefined;

/** The merged view of the layers applied so far. */
export class MergedIndex {
  readonly #nodes = new Map<string, ImageNode>([["", { kind: "directory", layer: -1 }]]);
  readonly #children = new Map<string, Set<string>>([["", new Set()]]);
  /** Bytes of all paths held (the keys): deep trees repeat each parent's name in every path below it. */
  #pathBytes = 0;
  /** Directories made opaque, and by which layer. */
  readonly #opaqued = new Map<string, number>();
  /** Problems seen (a hard link to nothing), reported as notes. */
  readonly warnings: string[] = [];

  /** The node at canonical `path` (`usr/lib/x`, `""` for the root). */
  get(path: string): ImageNode | undefined {
    return this.#nodes.get(path);
  }

  /** Names directly under directory `path`, or undefined when it is not a directory. */
  children(path: string): readonly string[] | undefined {
    const set = this.#children.get(path);
    return set === undefined ? undefined : [...set];
  }

  /** Number of paths. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Every path of the image and its node. */
  entries(): IterableIterator<[string, ImageNode]> {
    return this.#nodes.entries();
  }

  /**
   * Applies one entry of layer `layer`; returns the file node it created
   * (so the caller may attach what it reads of the data), or undefined.
   */
  apply(header: TarHeader, layer: number): Applied {
    if (header.name.length > MAX_NAME || header.linkname.length > MAX_NAME) {
      throw new LimitError(
        `layer ${layer + 1}: a member name or link target of ${Math.max(header.name.length, header.linkname.length)} bytes at offset 0x${header.headerOffset.toString(16)} (limit ${MAX_NAME}, the kernel's PATH_MAX)`,
      );
    }
    const components = canonicalComponents(header.name);
    if (components.length === 0) return undefined; // "./" itself
    const base = components.at(-1) as string;
    const parents = components.slice(0, -1);
    if (base.startsWith(".wh.")) {
      if (base === ".wh..wh..opq") this.#opaque(this.#parentDir(parents, layer, true) as string, layer);
      else if (!base.startsWith(".wh..wh.")) {
        const name = base.slice(4);
        const parent = this.#parentDir(parents, layer, false);
        // `.wh.` alone (or `.wh..`) names the directory itself or its parent: no tool writes that, and it must not delete the root.
        if (parent !== undefined && name !== "" && name !== "." && name !== "..") this.#whiteout(join(parent, name), layer);
      }
      // Other `.wh..wh.` names (aufs's `.wh..wh.plnk`, `.wh..wh.aufs`) are bookkeeping, not files.
      return undefined;
    }
    const path = join(this.#parentDir(parents, layer, true) as string, base);
    const existing = this.#nodes.get(path);
    let node: ImageNode;
    switch (header.kind) {
      case "directory":
        if (existing?.kind === "directory") {
          // Metadata only: the children stay, but the directory now belongs to this layer (an opaque marker keeps it).
          this.#nodes.set(path, { kind: "directory", layer });
          return undefined;
        }
        node = { kind: "directory", layer };
        break;
      case "symlink":
        node = { kind: "symlink", layer, target: header.linkname };
        break;
      case "hardlink": {
        const target = this.#nodes.get(canonicalComponents(header.linkname).join("/"));
        if (target?.kind !== "file") {
          this.warnings.push(`layer ${layer + 1}: hard link /${path} → ${header.linkname}: the target is not a regular file in the image; ignored`);
          return undefined;
        }
        // A hard link is the same inode: same content, same mode.
        node = { kind: "file", layer, content: target.content, mode: target.mode, elf: target.elf, small: target.small };
        break;
      }
      case "file":
        node = {
          kind: "file",
          layer,
          content: { layer, dataOffset: header.dataOffset, size: header.size },
          mode: header.mode,
          elf: undefined,
          small: undefined,
        };
        break;
      default:
        node = { kind: "other", layer };
    }
    if (existing?.kind === "directory") this.#removeBelow(path, () => true);
    this.#set(path, node);
    return { path, node };
  }

  #set(path: string, node: ImageNode): void {
    if (!this.#nodes.has(path)) {
      if (this.#nodes.size >= MAX_IMAGE_PATHS) throw new LimitError(`more than ${MAX_IMAGE_PATHS} paths in the image`);
      this.#pathBytes += path.length;
      if (this.#pathBytes > MAX_IMAGE_PATH_BYTES)
        throw new LimitError(`more than ${MAX_IMAGE_PATH_BYTES} bytes of path names in the image (deep directories repeat every parent's name)`);
      const slash = path.lastIndexOf("/");
      this.#children.get(slash < 0 ? "" : path.slice(0, slash))?.add(slash < 0 ? path : path.slice(slash + 1));
    }
    this.#nodes.set(path, node);
    if (node.kind === "directory") {
      if (!this.#children.has(path)) this.#children.set(path, new Set());
    } else {
      this.#children.delete(path);
    }
  }

  /**
   * The directory `parents` name, as extraction would find it: a symlink on
   * the way is followed inside the image (containerd and Docker resolve a
   * member's parent in the root, so `lib/x` under `lib -> usr/lib` lands in
   * `usr/lib`). With `create`, parents the archive did not list become
   * directories (a file in their way is replaced, as extraction would), and
   * existing ones now belong to this layer too, so that an opaque marker of
   * an ancestor keeps them; without, undefined when it does not exist.
   *
   * Cost: one lookup when the parent exists and belongs to this layer
   * already (the common case); a walk up only as far as the deepest
   * existing prefix, and the nodes it walks past are created. Every proper
   * prefix of a path in the index is a directory, and a directory of layer
   * L has ancestors of layer L or above, so the walks may stop there.
   */
  #parentDir(parents: readonly string[], layer: number, create: boolean): string | undefined {
    let components = parents;
    for (let hops = 0; ; hops++) {
      if (components.length === 0) return "";
      const key = components.join("/");
      const ends: number[] = [];
      let at = 0;
      for (const c of components) {
        at += c.length;
        ends.push(at);
        at += 1;
      }
      const prefix = (j: number): string => key.slice(0, ends[j]);
      let i = components.length - 1;
      let node: ImageNode | undefined;
      for (; i >= 0; i--) {
        node = this.#nodes.get(prefix(i));
        if (node !== undefined) break;
      }
      if (node?.kind === "symlink") {
        if (hops >= MAX_SYMLINK_HOPS)
          throw new LimitError(`layer ${layer + 1}: more than ${MAX_SYMLINK_HOPS} symlinks followed resolving the parent /${key} (the kernel's ELOOP limit)`);
        const target = node.target.startsWith("/") ? node.target : `${components.slice(0, i).join("/")}/${node.target}`;
        components = [...canonicalComponents(target), ...components.slice(i + 1)];
        continue;
      }
      if (!create) return node?.kind === "directory" && i === components.length - 1 ? key : undefined;
      if (node !== undefined && node.kind !== "directory") {
        this.#delete(prefix(i));
        i -= 1;
      }
      for (let j = i; j >= 0; j--) {
        const p = prefix(j);
        const n = this.#nodes.get(p);
        if (n === undefined || n.kind !== "directory" || n.layer >= layer) break;
        this.#nodes.set(p, { kind: "directory", layer });
      }
      for (let j = i + 1; j < components.length; j++) this.#set(prefix(j), { kind: "directory", layer });
      return key;
    }
  }

  /**
   * `.wh.NAME`: NAME and everything under it, from lower layers, are gone,
   * wherever the whiteout sits in its layer's tar (OCI: it applies to the
   * layers below). What this layer wrote under NAME before it stays; NAME
   * itself goes unless this layer put something there.
   */
  #whiteout(path: string, layer: number): void {
    const node = this.#nodes.get(path);
    if (node === undefined || path === "") return;
    this.#removeBelow(path, (n) => n.layer < layer);
    if (node.layer < layer) this.#delete(path);
  }

  /** `.wh..wh..opq`: the directory's lower-layer children are hidden (once per directory and layer: a layer may repeat the marker). */
  #opaque(dir: string, layer: number): void {
    const node = this.#nodes.get(dir);
    if (node?.kind !== "directory" || this.#opaqued.get(dir) === layer) return;
    this.#opaqued.set(dir, layer);
    for (const name of [...(this.#children.get(dir) ?? [])]) {
      const child = join(dir, name);
      const n = this.#nodes.get(child);
      if (n === undefined) continue;
      // A directory this layer also writes into stays, but loses what the lower layers put in it.
      this.#removeBelow(child, (x) => x.layer < layer);
      if (n.layer < layer) this.#delete(child);
    }
    if (dir !== "") this.#nodes.set(dir, { kind: "directory", layer });
  }

  /** Deletes everything strictly under `path` for which `which` holds (a kept directory keeps its kept children). */
  #removeBelow(path: string, which: (node: ImageNode) => boolean): void {
    for (const name of [...(this.#children.get(path) ?? [])]) {
      const child = join(path, name);
      const node = this.#nodes.get(child);
      this.#removeBelow(child, which);
      if (node !== undefined && which(node)) this.#delete(child);
    }
  }

  #delete(path: string): void {
    this.#removeBelow(path, () => true);
    if (this.#nodes.delete(path)) this.#pathBytes -= path.length;
    this.#opaqued.delete(path);
    this.#children.delete(path);
    const slash = path.lastIndexOf("/");
    this.#children.get(slash < 0 ? "" : path.slice(0, slash))?.delete(slash < 0 ? path : path.slice(slash + 1));
  }
}

/** `./usr//lib/../lib/x` → `["usr", "lib", "x"]`; `..` is clamped at the root. */
export function canonicalComponents(name: string): string[] {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out;
}

function join(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}
