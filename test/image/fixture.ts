/**
 * The test images, built once per test file from fixtures/elf binaries and
 * the host's libc, in every storage form probec reads. Each layer does one
 * thing the reader must get right:
 *
 * - layer 1 (gzip): a small glibc system: usdt_sema, libc and ld.so, an
 *   ld.so.cache made by `ldconfig -r`, `/lib64/ld-linux…` as an absolute
 *   symlink, `lib` → `usr/lib`, libver.so (deleted later), /opt/plugins/old.so
 *   (hidden later);
 * - layer 2 (zstd): a whiteout deleting libver.so, an opaque /opt/plugins
 *   with new.so, an absolute symlink libfoo.so.1 → DECOY/libfoo.so.1 whose
 *   target exists in the image AND on the host with other content (a host
 *   decoy: libver.so, which has no USDT probes), a path longer than 100
 *   bytes (pax);
 * - layer 3 (none): a hard link to usdt_sema in layer 1, a GNU long name,
 *   and /usr/bin/app → usdt_sema, which the config's Entrypoint runs.
 *
 * And an arm64 image of the cross-compiled fixtures, with an x86-64
 * library of the same name earlier in the search path (it must be skipped).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { tarDirectory, tarOf, writeDockerClassicArchive, writeOciLayout, type ImageSpec, type TarMember } from "../support/image.js";

const BIN = new URL("../../fixtures/elf/bin/", import.meta.url).pathname;
export const fixture = (name: string): Buffer => readFileSync(join(BIN, name));
const HOST_LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const HOST_LDSO = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
export const LIBDIR = "usr/lib/x86_64-linux-gnu";
/** A long directory path (> 100 bytes) for the pax and GNU long-name members. */
export const DEEP = `opt/${"deep-directory-name/".repeat(6)}end`;

/** Everything one test file needs; {@link cleanup} removes it. */
export interface TestImages {
  readonly dir: string;
  /** Where the absolute symlink points, with a decoy file at the same path on the host. */
  readonly decoy: string;
  readonly ociDir: string;
  readonly ociArchive: string;
  readonly classicArchive: string;
  readonly rootDir: string;
  readonly multiDir: string;
  readonly multiArchive: string;
  cleanup(): void;
}

/** Builds every image form in a fresh temporary directory. */
export function buildTestImages(): TestImages {
  const dir = mkdtempSync(join(tmpdir(), "probec-image-test-"));
  const decoy = mkdtempSync(join(tmpdir(), "probec-decoy-"));
  // The host decoy: same absolute path as the image's symlink target, other content.
  writeFileSync(join(decoy, "libfoo.so.1"), fixture("libver.so"));

  const base = baseLayer(dir);
  const update: TarMember[] = [
    { name: `${LIBDIR}/.wh.libver.so`, type: "file", data: new Uint8Array(0) },
    { name: "opt/plugins/.wh..wh..opq", type: "file", data: new Uint8Array(0) },
    { name: "opt/plugins/new.so", type: "file", data: fixture("libusdt_same.so") },
    { name: `${decoy.slice(1)}/libfoo.so.1`, type: "file", data: fixture("libusdt_same.so") },
    { name: `${LIBDIR}/libfoo.so.1`, type: "symlink", linkname: `${decoy}/libfoo.so.1` },
    { name: `${DEEP}/pax/libdeep.so`, type: "file", data: fixture("libusdt_same.so") },
  ];
  const top: TarMember[] = [
    { name: "usr/bin/sema-link", type: "hardlink", linkname: "usr/bin/usdt_sema" },
    { name: `${DEEP}/gnu/libdeep.so`, type: "file", data: fixture("libusdt_same.so") },
    { name: "usr/bin/app", type: "symlink", linkname: "usdt_sema" },
  ];
  const amd64: ImageSpec = {
    architecture: "amd64",
    layers: [
      { tar: tarOf(base), compression: "gzip" },
      { tar: tarOf(update), compression: "zstd" },
      { tar: tarOf(top, "gnu"), compression: "none" },
    ],
    config: { entrypoint: ["app"], cmd: ["--flag"], env: ["PATH=/usr/local/bin:/usr/bin:/bin"] },
  };
  const ociDir = writeOciLayout(join(dir, "oci"), [amd64]);
  const ociArchive = tarDirectory(ociDir, join(dir, "oci.tar"));
  const classicArchive = writeDockerClassicArchive(join(dir, "classic.tar"), {
    ...amd64,
    layers: amd64.layers.map((l) => ({ ...l, compression: "none" as const })),
  });
  const rootDir = flatRoot(join(dir, "rootfs"), [base, update, top]);

  const arm64: ImageSpec = {
    architecture: "arm64",
    variant: "v8",
    layers: [
      {
        tar: tarOf([
          { name: "usr/bin/app", type: "file", data: fixture("usdt_cross_aarch64_O2") },
          { name: "usr/lib/libusdt_cross_aarch64.so", type: "file", data: fixture("libusdt_cross_aarch64.so") },
          // Same name, wrong machine, searched first (/usr/lib64 comes before /usr/lib): the loader skips it, so must we.
          { name: "usr/lib64/libusdt_cross_aarch64.so", type: "file", data: fixture("libusdt_same.so") },
        ]),
        compression: "gzip",
      },
    ],
    config: { cmd: ["/usr/bin/app"] },
  };
  const multiDir = writeOciLayout(join(dir, "multi"), [amd64, arm64]);
  const multiArchive = tarDirectory(multiDir, join(dir, "multi.tar"));
  return {
    dir,
    decoy,
    ociDir,
    ociArchive,
    classicArchive,
    rootDir,
    multiDir,
    multiArchive,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(decoy, { recursive: true, force: true });
    },
  };
}

/** Layer 1: a glibc system with a real ld.so.cache, made by ldconfig in a scratch root. */
function baseLayer(dir: string): TarMember[] {
  const scratch = join(dir, "ldconfig-root");
  const files: [string, Buffer][] = [
    [`${LIBDIR}/libc.so.6`, readFileSync(HOST_LIBC)],
    [`${LIBDIR}/ld-linux-x86-64.so.2`, readFileSync(HOST_LDSO)],
    [`${LIBDIR}/libver.so`, fixture("libver.so")],
    ["usr/bin/usdt_sema", fixture("usdt_sema")],
    ["opt/plugins/old.so", fixture("libusdt_same.so")],
    ["etc/ld.so.conf", Buffer.from(`/${LIBDIR}\n`)],
  ];
  for (const [path, data] of files) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), data);
  }
  execFileSync("ldconfig", ["-r", scratch]);
  const cache = readFileSync(join(scratch, "etc/ld.so.cache"));
  return [
    { name: "./", type: "dir" },
    { name: "usr/", type: "dir" },
    { name: "usr/bin/", type: "dir" },
    { name: "lib", type: "symlink", linkname: "usr/lib" },
    { name: "lib64/", type: "dir" },
    { name: "lib64/ld-linux-x86-64.so.2", type: "symlink", linkname: `/${LIBDIR}/ld-linux-x86-64.so.2` },
    ...files.map(([name, data]): TarMember => ({ name: `./${name}`, type: "file", data })),
    { name: "etc/ld.so.cache", type: "file", data: cache },
  ];
}

/** The layers applied by hand into a real directory: what `docker export` of the image would give. */
function flatRoot(root: string, layers: TarMember[][]): string {
  const merged = new Map<string, TarMember>();
  for (const layer of layers) {
    for (const m of layer) {
      const name = m.name.replace(/^\.\//, "").replace(/\/$/, "");
      const base = name.split("/").at(-1) ?? "";
      if (base === ".wh..wh..opq") {
        const parent = name.slice(0, -base.length - 1);
        for (const key of [...merged.keys()]) if (key.startsWith(`${parent}/`)) merged.delete(key);
      } else if (base.startsWith(".wh.")) {
        merged.delete(name.replace(`.wh.${base.slice(4)}`, base.slice(4)));
      } else if (name !== "") {
        merged.set(name, m);
      }
    }
  }
  for (const [name, m] of merged) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    if (m.type === "dir") mkdirSync(path, { recursive: true });
    // With the mode the layer gives it (tarOf's default is 0755), as a real unpacked image has.
    else if (m.type === "file") writeFileSync(path, m.data, { mode: m.mode ?? 0o755 });
    else if (m.type === "symlink") symlinkSync(m.linkname, path);
    else copyFileSync(join(root, m.linkname), path);
  }
  return root;
}
