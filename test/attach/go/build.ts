/**
 * Builds test/attach/go/goapp (the Go program of the Go return-probe tests)
 * with Debian's golang-go, as container images build Go services:
 * CGO_ENABLED=0 (a static binary that runs in an empty image), offline,
 * once plain and once with `-ldflags='-s -w'` (no ELF symbols: functions
 * come from `.gopclntab`). The `go` runner and its environment (GOCACHE
 * under the temp directory, GOPROXY=off) are test/support/go.ts's.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker, importImage } from "../../support/dockerd.js";
import { go } from "../../support/go.js";

/** Where the program's source is. */
export const GOAPP_SRC = join(import.meta.dirname, "goapp");

/** The two builds of goapp. */
export interface GoApp {
  /** With its ELF symbol table. */
  readonly plain: string;
  /** Linked with `-s -w`. */
  readonly stripped: string;
  /** `go version` of the toolchain that built them. */
  readonly goVersion: string;
}

/** Builds both into a fresh temp directory (a second or so each with a warm GOCACHE). */
export function buildGoApp(): GoApp {
  const out = mkdtempSync(join(tmpdir(), "probec-goapp-"));
  const plain = join(out, "goapp");
  const stripped = join(out, "goapp-stripped");
  go(["build", "-trimpath", "-buildvcs=false", "-o", plain, "."], { cwd: GOAPP_SRC });
  go(["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", stripped, "."], { cwd: GOAPP_SRC });
  return { plain, stripped, goVersion: go(["version"]).trim() };
}

/** Cross-builds goapp for arm64 (never run here: its plans and return instructions are checked, not attached). */
export function buildGoAppArm64(): string {
  const out = mkdtempSync(join(tmpdir(), "probec-goapp-arm64-"));
  const path = join(out, "goapp-arm64");
  go(["build", "-trimpath", "-buildvcs=false", "-o", path, "."], { cwd: GOAPP_SRC, goarch: "arm64" });
  return path;
}

/** A Docker image holding /app/goapp and /app/goapp-stripped (static binaries: nothing else is needed), /out and /tmp. */
export function goAppImage(app: GoApp): string {
  const root = mkdtempSync(join(tmpdir(), "probec-goapp-rootfs-"));
  for (const dir of ["app", "out", "tmp"]) mkdirSync(join(root, dir));
  copyFileSync(app.plain, join(root, "app/goapp"));
  copyFileSync(app.stripped, join(root, "app/goapp-stripped"));
  const name = "probec-goapp:latest";
  // A fresh import each run: the binaries are rebuilt, and an old image would run old ones.
  try {
    docker(["image", "rm", "-f", name]);
  } catch {
    // Not there.
  }
  try {
    return importImage(name, root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
