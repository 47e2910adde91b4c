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
  | { readonly kind: "file"; readonly layer: number; readonly content: ContentRef; elf: ElfIdent | undefined; small: Uint8Array | undefined }
  | { readonly kind: "other"; readonly layer: number };

/** Longest member name or link target (tar-header.ts); bounds the depth of the tree too. */
export { MAX_NAME };
/** Most paths the merged index holds (the image is hostile input). */
export const MAX_IMAGE_PATHS = 2_000_000;

/** What {@link MergedIndex.apply} did with one entry. */
export type Applied = { readonly path: string; readonly node: ImageNode } | undefined;

/** The merged view of the layers applied so far. */
export class MergedIndex {
  readonly #nodes = new Map<string, ImageNode>([["", { kind: "directory", layer: -1 }]]);
  readonly #children = new Map<string, Set<string>>([["", new Set()]]);
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
      throw new LimitError(`layer ${layer + 1}: a member name or link target of ${Math.max(header.name.length, header.linkname.length)} bytes at offset 0x${header.headerOffset.toString(16)} (limit ${MAX_NAME}, the kernel's PATH_MAX)`);
    }
    const components = canonicalComponents(header.name);
    if (components.length === 0) return undefined; // "./" itself
    const base = components.at(-1) as string;
    const parent = components.slice(0, -1).join("/");
    if (base.startsWith(".wh.")) {
      if (base === ".wh..wh..opq") this.#opaque(parent, layer);
      else if (!base.startsWith(".wh..wh.")) this.#whiteout(join(parent, base.slice(4)), layer);
      // Other `.wh..wh.` names (aufs's `.wh..wh.plnk`, `.wh..wh.aufs`) are bookkeeping, not files.
      return undefined;
    }
    const path = components.join("/");
    this.#ensureParents(components, layer);
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
        node = { kind: "file", layer, content: target.content, elf: target.elf, small: target.small };
        break;
      }
      case "file":
        node = { kind: "file", layer, content: { layer, dataOffset: header.dataOffset, size: header.size }, elf: undefined, small: undefined };
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
      if (this.#nodes.size >= MAX_IMAGE_PATHS) throw new LimitError(`image: more than ${MAX_IMAGE_PATHS} paths`);
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
   * Parents the archive did not list become directories (a file in their
   * way is replaced, as extraction would); existing ones now belong to this
   * layer too, so that an opaque marker of an ancestor keeps them.
   */
  #ensureParents(components: readonly string[], layer: number): void {
    let path = "";
    for (let i = 0; i < components.length - 1; i++) {
      path = join(path, components[i] as string);
      const node = this.#nodes.get(path);
      if (node?.kind === "directory") {
        if (node.layer < layer) this.#nodes.set(path, { kind: "directory", layer });
        continue;
      }
      if (node !== undefined) this.#delete(path);
      this.#set(path, { kind: "directory", layer });
    }
  }

  /** `.wh.NAME`: NAME and everything under it, from lower layers, are gone. */
  #whiteout(path: string, layer: number): void {
    const node = this.#nodes.get(path);
    if (node === undefined || node.layer >= layer) return;
    this.#removeBelow(path, (n) => n.layer < layer);
    this.#delete(path);
  }

  /** `.wh..wh..opq`: the directory's lower-layer children are hidden. */
  #opaque(dir: string, layer: number): void {
    const node = this.#nodes.get(dir);
    if (node?.kind !== "directory") return;
    for (const name of [...(this.#children.get(dir) ?? [])]) {
      const child = join(dir, name);
      const n = this.#nodes.get(child);
      if (n === undefined) continue;
      // A directory this layer also writes into stays, but loses what the lower layers put in it.
      this.#removeBelow(child, (x) => x.layer < layer);
      if (n.layer < layer) this.#delete(child);
    }
    this.#nodes.set(dir, { kind: "directory", layer });
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
    this.#nodes.delete(path);
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
