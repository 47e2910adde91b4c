/**
 * The npm package as a user gets it (issue 13, "Install"): `npm pack`, then
 * `npm install -g` of that tarball in a clean Debian bookworm root made by
 * debootstrap (no compiler, no libelf, no libbpf), with no network, and
 * `probec list` and `probec trace` there against a real process.
 *
 * make-rootfs.sh makes the root once per machine (cached in
 * /var/cache/probec-test-rootfs); in-root.sh does the install and the runs in
 * its own mount and network namespaces on an overlay of it, and leaves its
 * results as files, asserted here. The prebuilt attachers are checked in the
 * packed tarball itself with probec's own ELF reader: the right machine, and
 * a dynamic section that needs libc and nothing else.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BufferSource, ElfFile, constants } from "../../src/elf/index.js";

const repo = new URL("../..", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;

let dir: string;
let out: string;
let packed: { filename: string; files: { path: string }[] };
let unpacked: string;

/** The DT_NEEDED entries of an ELF file's dynamic section, in order. */
function neededLibraries(elf: ElfFile): string[] {
  const dynamic = elf.section(".dynamic");
  if (dynamic === undefined) return [];
  const bytes = elf.readSection(dynamic);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const strings = elf.stringTable(dynamic.sh_link);
  const needed: string[] = [];
  // Elf64_Dyn: d_tag (8 bytes), d_val (8 bytes); both prebuilds are little-endian ELF64 (checked below).
  for (let at = 0; at + 16 <= bytes.byteLength; at += 16) {
    const tag = view.getBigInt64(at, true);
    if (tag === 0n) break; // DT_NULL
    if (tag === 1n) needed.push(strings.get(Number(view.getBigUint64(at + 8, true)))); // DT_NEEDED
  }
  return needed;
}

function openPrebuilt(platform: string): ElfFile {
  return ElfFile.open(new BufferSource(readFileSync(join(unpacked, "package", "prebuilds", platform, "probec-attach"))), platform);
}

/** The package's runtime dependencies, name@version, from package-lock.json (what `npm install -g` of the tarball needs). */
function runtimeDependencies(): string[] {
  const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string; dev?: boolean; devOptional?: boolean; link?: boolean }>;
  };
  const specs: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev === true || entry.devOptional === true || entry.link === true || entry.version === undefined) continue;
    specs.push(`${path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)}@${entry.version}`);
  }
  return specs;
}

function read(name: string): string {
  return readFileSync(join(out, name), "utf8");
}

beforeAll(() => {
  // Once per machine: debootstrap (about a minute here); afterwards it prints the cached root's path.
  const rootfs = execFileSync("bash", [join(here, "make-rootfs.sh")], { encoding: "utf8" }).trim();

  // `npm ci` caches the dependency tarballs but not the registry metadata `npm install` needs to resolve
  // their ranges; this puts both in this machine's npm cache from npm's registry (after the first run,
  // from the cache itself). The root then installs with --offline and no network at all.
  execFileSync("npm", ["cache", "add", "--prefer-offline", "--no-audit", "--no-fund", ...runtimeDependencies()], {
    cwd: repo,
    stdio: ["ignore", "ignore", "inherit"],
  });

  dir = mkdtempSync(join(tmpdir(), "probec-install-"));
  [packed] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
  ) as [typeof packed];
  unpacked = join(dir, "unpacked");
  mkdirSync(unpacked);
  execFileSync("tar", ["-xzf", join(dir, packed.filename), "-C", unpacked]);

  out = join(dir, "out");
  mkdirSync(out);
  execFileSync("bash", [join(here, "in-root.sh"), rootfs, join(dir, packed.filename), out], { stdio: ["ignore", "inherit", "inherit"] });
}, 900_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("carries the attacher for linux-x64 and linux-arm64, though git ignores prebuilds/", () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain("prebuilds/linux-x64/probec-attach");
    expect(paths).toContain("prebuilds/linux-arm64/probec-attach");
  });

  it("has no install script and no binding.gyp, so npm install builds and downloads nothing", () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, "package", "package.json"), "utf8")) as { scripts?: Record<string, string>; binary?: unknown };
    for (const hook of ["preinstall", "install", "postinstall"]) expect(manifest.scripts?.[hook]).toBeUndefined();
    expect(manifest.binary).toBeUndefined();
    // npm runs `node-gyp rebuild` on install for a package with binding.gyp at its root and no install script.
    expect(packed.files.map((f) => f.path)).not.toContain("binding.gyp");
  });

  it("the x64 attacher is x86-64 and needs only libc", () => {
    const elf = openPrebuilt("linux-x64");
    expect(elf.header.e_machine).toBe(constants.EM_X86_64);
    expect(neededLibraries(elf)).toEqual(["libc.so.6"]);
  });

  it("the arm64 attacher is AArch64 and needs only libc and its loader", () => {
    const elf = openPrebuilt("linux-arm64");
    expect(elf.header.e_machine).toBe(constants.EM_AARCH64);
    expect(elf.machineName).toBe("aarch64");
    expect(elf.header.bits).toBe(64);
    expect(neededLibraries(elf)).toEqual(["libc.so.6", "ld-linux-aarch64.so.1"]);
  });
});

describe("installed with npm in a clean Debian root", () => {
  it("the root is Debian's essentials: no compiler, no libelf, no libbpf", () => {
    const packages = read("packages.txt").trim().split("\n");
    expect(packages).toContain("perl-base"); // the target process below
    expect(packages.filter((p) => /^(gcc(-\d+)?|cpp(-\d+)?|clang.*|llvm.*|make|libelf.*|libbpf.*|binutils.*)$/.test(p))).toEqual([]);
    // No compiler or linker on PATH and no libelf/libbpf file anywhere in the root.
    expect(read("toolchain.txt")).toBe("");
  });

  it("runs this machine's Node 20+ (bookworm's own nodejs is 18)", () => {
    expect(read("node-version.txt")).toBe(`${process.version}\n`);
  });

  it("npm install -g of the tarball succeeds offline, building and downloading nothing, with no error printed", () => {
    const log = read("npm-install.log");
    expect(read("npm-install.rc")).toBe("0\n");
    expect(log).toMatch(/^added \d+ packages? in /m);
    expect(log).not.toMatch(/error|warn|gyp|probec\.invalid|http/i);
    expect(read("prebuilds.txt")).toBe(
      "/usr/local/lib/node_modules/probec/prebuilds/linux-arm64/probec-attach\n/usr/local/lib/node_modules/probec/prebuilds/linux-x64/probec-attach\n",
    );
  });

  it("probec list finds malloc in the root's libc", () => {
    expect(read("list.rc")).toBe("0\n");
    expect(read("list.txt")).toMatch(/^FUNCTION +ADDRESS +OFFSET +SIZE +TYPE +BIND\nmalloc@@GLIBC_2\.\S+ +0x[0-9a-f]+ +0x[0-9a-f]+ +\d+ +func +global\n$/);
  });

  it("probec trace attaches with the packaged attacher and sees a process in the root call malloc", () => {
    const target = Number(read("target.pid"));
    expect(read("trace.err")).toMatch(/--count 3 reached/);
    expect(read("trace.rc")).toBe("0\n");
    const events = read("trace.jsonl")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { pid: number; comm: string; size: number });
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event.pid).toBe(target);
      expect(event.comm).toBe("perl");
      // perl asks for each 1000-byte string's buffer (plus its own few bytes).
      expect(event.size).toBeGreaterThanOrEqual(1000);
    }
  });
});
