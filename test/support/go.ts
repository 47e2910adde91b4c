/**
 * Builds probec's Go test program (fixtures/go/src) with Debian's golang-go,
 * the way container images build Go services: CGO_ENABLED=0, with and
 * without `-ldflags='-s -w'`, for amd64 and (cross-compiled, never run)
 * arm64. Offline (GOPROXY=off, no VCS stamping); GOCACHE lives under the
 * system temp directory so that later runs reuse the compiled standard
 * library, and the binaries go to a fresh temp directory per test file.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where the fixture's sources are. */
export const GO_FIXTURE_SRC = join(import.meta.dirname, "../../fixtures/go/src");

/** One built binary. */
export interface GoBinary {
  readonly path: string;
  readonly goarch: "amd64" | "arm64";
  readonly stripped: boolean;
}

/** The environment every `go` command of the tests runs with. */
export function goEnv(): NodeJS.ProcessEnv {
  const cache = join(tmpdir(), "probec-test-gocache");
  mkdirSync(cache, { recursive: true });
  return {
    ...process.env,
    GOFLAGS: "-mod=mod",
    GOCACHE: cache,
    GOPATH: join(cache, "gopath"),
    GOPROXY: "off",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
    GO111MODULE: "on",
  };
}

/** Runs `go ARGS…` and returns its standard output. */
export function go(args: readonly string[], options: { cwd?: string; goarch?: string } = {}): string {
  const env = goEnv();
  if (options.goarch !== undefined) env.GOARCH = options.goarch;
  return execFileSync("go", args, { cwd: options.cwd, env, encoding: "utf8", maxBuffer: 512 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
}

/** Builds the fixture for each architecture, unstripped and stripped, into a new temp directory. */
export function buildGoFixtures(): GoBinary[] {
  const out = mkdtempSync(join(tmpdir(), "probec-go-"));
  const built: GoBinary[] = [];
  for (const goarch of ["amd64", "arm64"] as const) {
    for (const stripped of [false, true]) {
      const path = join(out, `app-${goarch}${stripped ? "-stripped" : ""}`);
      go(["build", "-trimpath", "-buildvcs=false", `-ldflags=${stripped ? "-s -w" : ""}`, "-o", path, "."], { cwd: GO_FIXTURE_SRC, goarch });
      built.push({ path, goarch, stripped });
    }
  }
  return built;
}

/** Builds fixtures/go/gosym-dump (Go's own debug/gosym reader, as a reference) and returns its path. */
export function buildGoSymDump(): string {
  const out = mkdtempSync(join(tmpdir(), "probec-gosym-"));
  const path = join(out, "gosym-dump");
  go(["build", "-buildvcs=false", "-o", path, "."], { cwd: join(import.meta.dirname, "../../fixtures/go/gosym-dump") });
  return path;
}

/**
 * Builds the fixture for amd64 linked by the system linker (`-linkmode=external`,
 * as cgo programs and Debian's packaged Go programs are), as a plain
 * executable and as a PIE, each with and without `-s -w`. In these, C start-up
 * code precedes `runtime.text` in `.text`, and a PIE's pclntab has no section
 * of its own and a relocated text-start word.
 */
export function buildGoExternalFixtures(): Array<{ path: string; mode: "exe" | "pie"; stripped: boolean }> {
  const out = mkdtempSync(join(tmpdir(), "probec-go-ext-"));
  const built: Array<{ path: string; mode: "exe" | "pie"; stripped: boolean }> = [];
  for (const mode of ["exe", "pie"] as const) {
    for (const stripped of [false, true]) {
      const path = join(out, `app-${mode}${stripped ? "-stripped" : ""}`);
      const env = { ...goEnv(), CGO_ENABLED: "1" };
      execFileSync("go", ["build", "-buildvcs=false", `-buildmode=${mode}`, `-ldflags=-linkmode=external${stripped ? " -s -w" : ""}`, "-o", path, "."], {
        cwd: GO_FIXTURE_SRC,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      built.push({ path, mode, stripped });
    }
  }
  return built;
}
