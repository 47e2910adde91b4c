/**
 * The end-to-end fixtures (test/attach/fixtures/*.c), built with the host's
 * gcc into a tmp directory named by a hash of their sources and the
 * compiler, so that the test files running in parallel build them once
 * between them: whoever finds the directory missing builds into a private
 * one and renames it into place (a rename that loses the race is dropped).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import tmp from "tmp";

/** test/attach/fixtures, where the C sources are. */
export const FIXTURE_SOURCES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

const WARNINGS = ["-Wall", "-Wextra", "-Werror"];

/**
 * Every output: its gcc arguments (after `gcc`, before `-o out`). Paths are
 * relative to the sources; `-L.` is the build directory. Libraries get a
 * soname and the programs a run path of /usr/lib, where the image keeps
 * them (the image has no ld.so.cache).
 */
const BUILDS: Record<string, string[]> = {
  "libzoo.so": ["-O2", "-shared", "-fPIC", "-Wl,-soname,libzoo.so", "libzoo.c"],
  zoo_app: ["-O2", "zoo_app.c", "-L.", "-lzoo", "-Wl,-rpath,/usr/lib"],
  // -fno-builtin: malloc stays a call into libc.
  malloc_app: ["-O1", "-fno-builtin", "malloc_app.c"],
  usdt_app: ["-O2", "usdt_app.c"],
  gai_app: ["-O2", "gai_app.c"],
  "libprobec_dl.so": ["-O2", "-shared", "-fPIC", "-Wl,-soname,libprobec_dl.so", "libprobec_dl.c"],
  dl_app: ["-O2", "dl_app.c"],
  // Stand-ins for libstapsdt and a program using it (Go's salp demo); libstapsdt is not in Debian.
  "libsalp_demo.so": ["-O2", "-shared", "-fPIC", "libsalp_demo.c"],
  salp_demo: ["-O2", "salp_demo.c"],
  "libx.so": ["-O2", "-shared", "-fPIC", "-Wl,-soname,libx.so", "libx.c"],
  "libx-decoy.so": ["-O2", "-shared", "-fPIC", "-DDECOY", "-Wl,-soname,libx.so", "libx.c"],
  x_app: ["-O2", "x_app.c", "-L.", "-lx", "-Wl,-rpath,/usr/lib"],
  worker: ["-O2", "worker.c"],
  "worker-v2": ["-O2", "-DV2", "worker.c"],
};

/** The outputs' names. */
export type FixtureName = keyof typeof BUILDS & string;

/** Built fixtures. */
export interface Fixtures {
  /** The build directory. */
  readonly dir: string;
  /** A hash of the sources and the compiler: the same for the same build. */
  readonly hash: string;
  /** The absolute path of one output. */
  path(name: FixtureName): string;
}

function sourcesHash(): string {
  const hash = createHash("sha256");
  hash.update(execFileSync("gcc", ["--version"], { encoding: "utf8" }));
  hash.update(JSON.stringify(BUILDS));
  for (const name of readdirSync(FIXTURE_SOURCES).sort()) {
    hash.update(name);
    hash.update(readFileSync(join(FIXTURE_SOURCES, name)));
  }
  return hash.digest("hex").slice(0, 16);
}

/** Builds the fixtures (once per source hash on this machine); returns where they are. */
export function buildFixtures(): Fixtures {
  const hash = sourcesHash();
  const dir = join(tmpdir(), `probec-attach-fixtures-${hash}`);
  if (!existsSync(join(dir, ".complete"))) {
    const work = tmp.dirSync({ prefix: "probec-attach-fixtures-build-", unsafeCleanup: true });
    try {
      for (const [out, args] of Object.entries(BUILDS)) {
        const resolved = args.map((a) => (a.endsWith(".c") ? join(FIXTURE_SOURCES, a) : a === "-L." ? `-L${work.name}` : a));
        try {
          execFileSync("gcc", [...WARNINGS, ...resolved, "-o", join(work.name, out)], { stdio: ["ignore", "pipe", "pipe"] });
        } catch (error) {
          const stderr = String((error as { stderr?: unknown }).stderr ?? "");
          throw new Error(
            `building the e2e fixture ${out} failed (gcc ${resolved.join(" ")}):\n${stderr}\nthe fixtures need gcc and systemtap-sdt-dev (sys/sdt.h)`,
          );
        }
      }
      execFileSync("touch", [join(work.name, ".complete")]);
      try {
        renameSync(work.name, dir);
      } catch (error) {
        // Another test file renamed its build into place first: theirs is the same.
        if (!existsSync(join(dir, ".complete"))) throw error;
      }
    } finally {
      if (existsSync(work.name)) rmSync(work.name, { recursive: true, force: true });
    }
  }
  return { dir, hash, path: (name) => join(dir, name) };
}
