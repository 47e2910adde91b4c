/**
 * The programs of the issue 15 end-to-end tests (test/attach/aggregate-fixtures/),
 * built with the host's gcc and g++, and the container image of the stack test.
 *
 *     agg_app            gcc -O2 -pthread: runs on the host (aggregations.test.ts)
 *     stack_app          gcc -O1 with frame pointers, linked to libstk_linked.so;
 *                        then `objcopy --only-keep-debug` to stack_app.debug,
 *                        `strip --strip-all`, `objcopy --add-gnu-debuglink`:
 *                        its own file names only c (exported) and no other
 *                        function of the program
 *     libstk_linked.so   g++ (ns::Klass::method(int)), strip --strip-unneeded
 *     dl-payload.bin     libstk_dl.so, strip --strip-unneeded; stack_app copies
 *                        it to /tmp/libstk_dl.so, dlopens it and deletes it
 *
 * Built once per hash of the sources and compilers into a tmp directory
 * (a private build renamed into place, as fixtures.ts does, so parallel
 * test files share one build). The image, `probec-attach-stacks:<hash>`:
 *
 *     /app/stack_app                         stripped
 *     /app/dl-payload.bin
 *     /usr/lib/libstk_linked.so              found by the loader through RPATH /usr/lib
 *     /usr/lib/debug/app/stack_app.debug     the debuglink's third place: <debug root>/<dir of the binary>/<name>
 *     the host's libc and loader, /tmp, /out
 *
 * None of these paths exist on the host: a frame named from them was named
 * from inside the container.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import tmp from "tmp";
import { docker, importImage } from "../../../support/dockerd.js";
import { runtimeFiles } from "../../../support/rootfs.js";

/** test/attach/aggregate-fixtures, where the sources are. */
export const AGGREGATE_SOURCES = fileURLToPath(new URL("../../aggregate-fixtures/", import.meta.url));
/** fixture.h, which the programs include. */
const FIXTURE_HEADER = fileURLToPath(new URL("../../fixtures/fixture.h", import.meta.url));

/** Frame pointers everywhere (the kernel walks them), no tail calls (a tail call leaves no frame). */
const STACK_FLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-Wall", "-Wextra", "-Werror"];

/** Every step of the build, in order: [command, ...arguments], run in the build directory; `@name` is a source file. */
const STEPS: string[][] = [
  ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", "agg_app", "@agg_app.c"],
  ["g++", ...STACK_FLAGS, "-fPIC", "-shared", "-Wl,-soname,libstk_linked.so", "-o", "libstk_linked.so", "@libstk_linked.cpp"],
  ["strip", "--strip-unneeded", "libstk_linked.so"],
  ["gcc", ...STACK_FLAGS, "-fPIC", "-shared", "-o", "dl-payload.bin", "@libstk_dl.c"],
  ["strip", "--strip-unneeded", "dl-payload.bin"],
  ["gcc", ...STACK_FLAGS, "-o", "stack_app", "@stack_app.c", "-L.", "-lstk_linked", "-Wl,-rpath,/usr/lib", "-Wl,--export-dynamic-symbol=c", "-ldl"],
  ["objcopy", "--only-keep-debug", "stack_app", "stack_app.debug"],
  ["strip", "--strip-all", "stack_app"],
  ["objcopy", "--add-gnu-debuglink=stack_app.debug", "stack_app"],
];

/** The built programs. */
export interface AggregateFixtures {
  readonly dir: string;
  readonly hash: string;
  /** `agg_app`, `stack_app`, `stack_app.debug`, `libstk_linked.so`, `dl-payload.bin`. */
  path(name: string): string;
}

function sourcesHash(): string {
  const hash = createHash("sha256");
  for (const tool of ["gcc", "g++"]) hash.update(execFileSync(tool, ["--version"], { encoding: "utf8" }));
  hash.update(JSON.stringify(STEPS));
  hash.update(readFileSync(FIXTURE_HEADER));
  for (const name of readdirSync(AGGREGATE_SOURCES).sort()) {
    hash.update(name);
    hash.update(readFileSync(join(AGGREGATE_SOURCES, name)));
  }
  return hash.digest("hex").slice(0, 16);
}

/** Builds the programs once per source hash on this machine; returns where they are. */
export function buildAggregateFixtures(): AggregateFixtures {
  const hash = sourcesHash();
  const dir = join(tmpdir(), `probec-aggregate-fixtures-${hash}`);
  if (!existsSync(join(dir, ".complete"))) {
    const work = tmp.dirSync({ prefix: "probec-aggregate-fixtures-build-", unsafeCleanup: true });
    try {
      for (const [command, ...args] of STEPS) {
        const resolved = args.map((a) => (a.startsWith("@") ? join(AGGREGATE_SOURCES, a.slice(1)) : a));
        try {
          execFileSync(command!, resolved, { cwd: work.name, stdio: ["ignore", "pipe", "pipe"] });
        } catch (error) {
          const stderr = String((error as { stderr?: unknown }).stderr ?? "");
          throw new Error(`building the issue 15 fixtures failed at: ${command} ${resolved.join(" ")}\n${stderr}\nthey need gcc, g++ and binutils`);
        }
      }
      execFileSync("touch", [join(work.name, ".complete")]);
      try {
        renameSync(work.name, dir);
      } catch (error) {
        // Another test file renamed its identical build into place first.
        if (!existsSync(join(dir, ".complete"))) throw error;
      }
    } finally {
      if (existsSync(work.name)) rmSync(work.name, { recursive: true, force: true });
    }
  }
  return { dir, hash, path: (name) => join(dir, name) };
}

/** Where the image keeps the debug file: /usr/lib/debug + the binary's directory + the debuglink's name. */
export const STACK_DEBUG_PATH = "/usr/lib/debug/app/stack_app.debug";

/** The stack image's id, importing it into the tests' dockerd first when it is not there. */
export function stackImage(fixtures: AggregateFixtures): string {
  const name = `probec-attach-stacks:${fixtures.hash}`;
  try {
    return docker(["image", "inspect", "--format", "{{.Id}}", name]);
  } catch {
    // Not there yet.
  }
  const root = tmp.dirSync({ prefix: "probec-stacks-rootfs-", unsafeCleanup: true });
  try {
    const put = (from: string, to: string): void => {
      mkdirSync(dirname(join(root.name, to)), { recursive: true });
      copyFileSync(from, join(root.name, to));
    };
    put(fixtures.path("stack_app"), "/app/stack_app");
    put(fixtures.path("dl-payload.bin"), "/app/dl-payload.bin");
    put(fixtures.path("libstk_linked.so"), "/usr/lib/libstk_linked.so");
    put(fixtures.path("stack_app.debug"), STACK_DEBUG_PATH);
    // libc and the loader, as the host's ldd finds them (libstk_linked.so is "not found" on the host: skipped).
    for (const file of runtimeFiles(fixtures.path("stack_app")).slice(1)) put(file, file);
    mkdirSync(join(root.name, "tmp"), { mode: 0o1777 });
    mkdirSync(join(root.name, "out"));
    return importImage(name, root.name);
  } finally {
    root.removeCallback();
  }
}

/** A function's [start, end) in a file with a .symtab, from `nm -S` (to check a `module+0xOFF` frame against). */
export function functionRange(file: string, name: string): { start: bigint; end: bigint } {
  const out = execFileSync("nm", ["-S", "--defined-only", file], { encoding: "utf8" });
  for (const line of out.split("\n")) {
    const [value, size, , symbol] = line.trim().split(/\s+/);
    if (symbol === name && value !== undefined && size !== undefined) {
      const start = BigInt(`0x${value}`);
      return { start, end: start + BigInt(`0x${size}`) };
    }
  }
  throw new Error(`${name} is not a sized symbol of ${file}`);
}
