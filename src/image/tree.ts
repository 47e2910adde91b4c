/**
 * An image's root filesystem, as the checks see it: paths resolved inside
 * the image (symlinks, absolute ones included, never leave it), directories
 * listed, ELF identities known, and the few files a check needs readable.
 * Two implementations: the merged layers of an image that is never
 * extracted (layered-tree.ts), and a plain root filesystem directory
 * (dir-tree.ts).
 */
import type { ByteSource } from "../io/byte-source.js";
import type { ElfIdent } from "./elf-ident.js";
import type { ImageConfig } from "./layout.js";

/** What a resolved path must be. */
export type Expect = "file" | "directory" | "any";

/** An image's root filesystem. Paths are absolute paths inside the image. */
export interface ImageTree {
  /** How messages name the image (its path). */
  readonly label: string;
  /** The image config (Entrypoint, Cmd, Env, platform); undefined for a bare root filesystem. */
  readonly config: ImageConfig | undefined;
  /** `os/arch[/variant]` of the image checked, when known. */
  readonly platform: string | undefined;
  /** Every platform the image offered (a multi-platform index has several). */
  readonly platforms: readonly string[];
  /** How it was read: `oci`, `docker` (classic manifest.json) or `directory`. */
  readonly layout: "oci" | "docker" | "directory";
  /** Things worth telling the user that are not errors (a dangling hard link in a layer). */
  readonly warnings: readonly string[];
  /**
   * The canonical path of `path` inside the image, symlinks followed inside
   * it. Throws `NotFoundError` for a missing component, `IoError` for a
   * wrong type, `LimitError` for a symlink loop.
   */
  resolve(path: string, expect?: Expect): string;
  /** Names in the directory at canonical `path`, or undefined when it is not one. */
  list(path: string): readonly string[] | undefined;
  /** Whether the regular file at canonical `path` has an execute bit (what execvp needs to take it from PATH). */
  executable(path: string): boolean;
  /** The ELF identity of the regular file at canonical `path`, or undefined when it is not ELF. */
  identify(path: string): ElfIdent | undefined;
  /** The bytes of a small file at canonical `path` (ld.so.cache, a musl path file), if {@link fetch}ed or indexed. */
  readSmall(path: string): Uint8Array | undefined;
  /** Makes the files at these canonical paths readable with {@link open}, reading each layer involved at most once. */
  fetch(paths: readonly string[]): Promise<void>;
  /** A reader of a fetched file; the tree closes it in {@link close}. */
  open(path: string): ByteSource;
  /** Releases open files and temporary space. */
  close(): void;
}
