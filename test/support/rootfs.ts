/**
 * A tiny root filesystem for test images: a few host binaries plus exactly
 * the shared libraries `ldd` says they load, each copied (dereferenced) to
 * the path the binary will ask for, the dynamic loader included. With
 * `/usr/bin/sleep` this is libc and ld.so, about 2 MiB.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The files a dynamically linked `binary` needs, as absolute paths: the
 * binary itself, its libraries and its loader. `ldd` lines look like
 *
 *     linux-vdso.so.1 (0x00007ffd...)                       kernel-provided: skipped
 *     libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)   resolved library
 *     /lib64/ld-linux-x86-64.so.2 (0x...)                    the loader, at its PT_INTERP path
 */
export function runtimeFiles(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    // ldd exits 1 with "not a dynamic executable" for static binaries: nothing else to copy.
    const stdout = String((error as { stdout?: unknown }).stdout ?? "");
    if (/not a dynamic executable|statically linked/.test(stdout)) return [binary];
    throw error;
  }
  const files = [binary];
  for (const line of out.split("\n")) {
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (path !== undefined) files.push(path);
  }
  return files;
}

/** Copies `binaries` and what they load into `dir` at the same absolute paths; returns `dir`. */
export function buildRootfs(dir: string, binaries: readonly string[]): string {
  for (const binary of binaries) {
    for (const file of runtimeFiles(binary)) {
      const to = join(dir, file);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(file, to); // follows symlinks: the image gets the real bytes at the path asked for
    }
  }
  return dir;
}
