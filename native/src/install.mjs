// The npm `install` hook: leaves a usable probec-attach when this machine
// can build one, and never fails the install when it cannot. The library
// (compile, list, resolve, check) works without the helper; only attach()
// needs it, and says what is missing when it is not there (src/attach/helper.ts).
//
// 1. prebuilds/<platform>-<arch>/probec-attach newer than every native
//    source: nothing to do (a packaged binary, or a previous build).
// 2. Else `node-pre-gyp install --fallback-to-build`: no binary host is
//    reachable (package.json `binary.host` is a placeholder), so it builds
//    with node-gyp (binding.gyp) and copies the binary into prebuilds/.
// 3. A failed build prints what is needed and exits 0.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const binary = join(root, "prebuilds", `${process.platform}-${process.arch}`, "probec-attach");

if (process.platform !== "linux") {
  console.warn(`probec: the native attacher is Linux-only; skipping it on ${process.platform} (probec compile and list still work)`);
  process.exit(0);
}

/** Modification time of the newest native source (the BPF program, the ABI, the attacher, binding.gyp). */
function newestSource() {
  let newest = statSync(join(root, "binding.gyp")).mtimeMs;
  for (const dir of ["native/src", "native/bpf", "native/include"]) {
    const full = join(root, dir);
    if (!existsSync(full)) continue;
    for (const name of readdirSync(full)) newest = Math.max(newest, statSync(join(full, name)).mtimeMs);
  }
  return newest;
}

if (existsSync(binary) && statSync(binary).mtimeMs >= newestSource()) process.exit(0);

const preGyp = join(root, "node_modules", "@mapbox", "node-pre-gyp", "bin", "node-pre-gyp");
const result = spawnSync(process.execPath, [preGyp, "install", "--fallback-to-build"], { cwd: root, stdio: "inherit" });
if (result.status === 0 && existsSync(binary)) process.exit(0);

console.warn(
  [
    "",
    "probec: the native attacher (probec-attach) could not be built; probec compile, list, resolve and check work without it,",
    "        probec run / attach() need it. To build it:",
    "          apt-get install clang libbpf-dev libelf-dev zlib1g-dev   (Debian/Ubuntu)",
    "          npm run build:native",
    "",
  ].join("\n"),
);
process.exit(0);
