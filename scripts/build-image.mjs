#!/usr/bin/env node
/**
 * `npm run image`: probec's container image, built offline, as an OCI
 * archive that `docker load` and `ctr image import` take (issue 14, "probec
 * on Kubernetes"; deploy/kubernetes/ runs it as a DaemonSet).
 *
 *     node scripts/build-image.mjs [--out DIR] [--force] [--rootfs DIR]
 *
 * prints the archive's path, `DIR/probec-<version>-oci.tar` (default
 * dist/image/), on stdout. Its one layer holds exactly:
 *
 *   /usr/local/bin/node             this machine's node (probec needs Node 20+; Debian's is 18)
 *   /usr/local/lib/node_modules/probec
 *                                   the package as users get it: `npm pack`, then
 *                                   `npm install -g --omit=dev --offline` of that tarball,
 *                                   keeping only this architecture's prebuilt attacher
 *   /usr/local/bin/probec           npm's bin link, for `kubectl exec … -- probec list …`
 *   /usr/bin/env                    what that link's `#!/usr/bin/env node` runs
 *   /usr/bin/ctr                    probec reaches containerd (Kubernetes' usual runtime)
 *                                   only through ctr (src/discovery/runtimes/containerd.ts)
 *   /lib/…, /lib64/…                the shared libraries those binaries load, as `ldd` lists them
 *   /tmp                            mode 1777
 *
 * and nothing else: no shell, no npm, no compiler, no package manager. The
 * libraries are copied with `ldd` rather than taken from a Debian root
 * (test/install's debootstrap) because minbase would add some 150 MiB of
 * dpkg, apt, perl and coreutils that nothing here runs.
 *
 * Entrypoint: `/usr/local/bin/node /usr/local/lib/node_modules/probec/dist/cli/probec.cjs`
 * rather than `probec`: the bin's `#!/usr/bin/env node` would cost an exec
 * and a PATH lookup, and the image would need env for its own start. So
 * `docker run IMAGE list FILE` and the DaemonSet's `args` are probec's arguments.
 *
 * Deterministic: the same inputs give the same bytes (fixed mtimes, from
 * $SOURCE_DATE_EPOCH or 0; sorted members; normalised modes; see
 * build-image.oci.mjs). So the archive is rebuilt only when an input
 * changed: a file the package packs, the lock file, node, ctr, env, this script or the epoch,
 * whose digest is kept beside it in `<archive>.inputs` (`--force` rebuilds
 * anyway). Needs `npm run build` and `npm run build:native` first, and
 * probec's dependencies in npm's cache (`npm ci` puts them there).
 *
 * `--rootfs DIR` packs DIR as the layer instead (the image format's own tests).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { shortReference, writeLayer, writeOciArchive } from "./build-image.oci.mjs";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGE_DIR = "usr/local/lib/node_modules/probec";
const ENTRYPOINT = ["/usr/local/bin/node", `/${PACKAGE_DIR}/dist/cli/probec.cjs`];
/** OCI's architecture names (image-spec config.md: GOARCH values) for Node's. */
const OCI_ARCH = { x64: "amd64", arm64: "arm64" };

/** Stops the build with one line naming the problem and its fix (printed by the catch at the bottom, after cleaning up). */
function fail(message) {
  throw new Error(message);
}

function say(message) {
  process.stderr.write(`build-image: ${message}\n`);
}

/** Where `command` is on PATH, or undefined. */
function which(command) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir !== "" && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * `binary` and the shared libraries it loads, as absolute paths, from
 * `ldd`: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and the
 * loader `/lib64/ld-linux-x86-64.so.2 (0x…)`; the vDSO has no path.
 */
function withLibraries(binary) {
  let out;
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    if (/not a dynamic executable|statically linked/.test(String(error.stdout ?? ""))) return [binary];
    fail(`ldd ${binary} failed: ${String(error.stderr ?? error.message).trim()}`);
  }
  const files = [binary];
  for (const line of out.split("\n")) {
    if (/=>\s*not found/.test(line)) fail(`${binary} needs ${line.trim().split(/\s/)[0]}, which this machine lacks`);
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (path !== undefined) files.push(path);
  }
  return files;
}

/** Copies `from` to `root`/`to`, following symlinks (the image gets the bytes at the path the loader asks for). */
function place(root, from, to = from) {
  const target = join(root, to);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(from, target);
}

/** `npm pack` of this repository into `dir`; returns the tarball's path. */
function pack(dir) {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return join(dir, JSON.parse(out)[0].filename);
}

/**
 * Fills `root` with the image's files (the list in this file's header).
 * `tarball` is the packed package; `arch` Node's name of the architecture.
 */
function stage(root, tarball, arch, binaries) {
  try {
    execFileSync(
      "npm",
      ["install", "--global", "--prefix", join(root, "usr/local"), "--offline", "--omit=dev", "--no-audit", "--no-fund", "--no-update-notifier", tarball],
      { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (error) {
    fail(
      `npm install of the packed package failed offline: ${String(error.stderr ?? "")
        .trim()
        .split("\n")
        .slice(-3)
        .join(" ")}\n` + "  probec's dependencies must be in npm's cache: run `npm ci` (or `npm cache add <name>@<version>` for each) once with a network",
    );
  }
  const prebuilds = join(root, PACKAGE_DIR, "prebuilds");
  for (const platform of readdirSync(prebuilds)) if (platform !== `linux-${arch}`) rmSync(join(prebuilds, platform), { recursive: true });
  // The libraries at the paths the loader asks for; the binaries themselves only where the image wants them (below).
  for (const binary of Object.values(binaries)) for (const file of withLibraries(binary).slice(1)) place(root, file);
  place(root, binaries.node, "/usr/local/bin/node");
  place(root, binaries.ctr, "/usr/bin/ctr");
  place(root, binaries.env, "/usr/bin/env");
  mkdirSync(join(root, "tmp"));
  chmodSync(join(root, "tmp"), 0o1777);
  // npm's bin link must point at the bundled CLI the entrypoint runs.
  rmSync(join(root, "usr/local/bin/probec"), { force: true });
  symlinkSync(`../lib/node_modules/probec/dist/cli/probec.cjs`, join(root, "usr/local/bin/probec"));
}

/**
 * The files `npm pack` takes (package.json's `files`, plus package.json and
 * README.md, which npm always adds), each under its repository path; and
 * package-lock.json, which stands for the dependencies' versions. Listed
 * here rather than by packing, so that an up-to-date image costs no npm run.
 */
function packageInputs(pkg) {
  const files = [];
  const walk = (path) => {
    if (!existsSync(path)) return;
    if (!statSync(path).isDirectory()) return void files.push(path);
    for (const entry of readdirSync(path).sort()) walk(join(path, entry));
  };
  for (const entry of ["package.json", "package-lock.json", "README.md", ...(pkg.files ?? [])]) {
    if (/[*?[]/.test(entry)) fail(`package.json files entry ${entry}: a glob; teach scripts/build-image.mjs (packageInputs) to expand it`);
    walk(join(repo, entry));
  }
  return files;
}

/** sha256 over everything the image is made from, for the rebuild-or-not decision. */
function inputsDigest(files, extra) {
  const hash = createHash("sha256");
  for (const file of files)
    hash
      .update(relative(repo, file))
      .update("\0")
      .update(createHash("sha256").update(readFileSync(file)).digest("hex"));
  hash.update(JSON.stringify(extra));
  return hash.digest("hex");
}

async function main() {
  const { values } = parseArgs({
    options: { out: { type: "string", default: join(repo, "dist", "image") }, force: { type: "boolean", default: false }, rootfs: { type: "string" } },
  });
  const arch = process.arch;
  if (!(arch in OCI_ARCH)) fail(`no image for ${arch}: probec has prebuilt attachers for x64 and arm64 only`);
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
  const out = resolve(values.out);
  const archive = join(out, `probec-${pkg.version}-oci.tar`);
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  if (!Number.isSafeInteger(epoch) || epoch < 0) fail(`SOURCE_DATE_EPOCH=${process.env.SOURCE_DATE_EPOCH}: not a number of seconds`);

  const work = mkdtempSync(join(tmpdir(), "probec-image-"));
  try {
    let root = values.rootfs === undefined ? undefined : resolve(values.rootfs);
    let inputs;
    if (root === undefined) {
      if (!existsSync(join(repo, "dist/cli/probec.cjs"))) fail("dist/cli/probec.cjs is missing: run `npm run build` first");
      if (!existsSync(join(repo, "prebuilds", `linux-${arch}`, "probec-attach")))
        fail(`prebuilds/linux-${arch}/probec-attach is missing: run \`npm run build:native\` first`);
      const binaries = { node: process.execPath, ctr: which("ctr"), env: "/usr/bin/env" };
      if (binaries.ctr === undefined)
        fail("ctr is not on PATH: the image carries it to reach containerd; install containerd (Debian: the containerd or docker.io package)");
      if (!existsSync(binaries.env)) fail("/usr/bin/env is missing");
      const self = [fileURLToPath(import.meta.url), join(repo, "scripts/build-image.oci.mjs")];
      inputs = inputsDigest([...packageInputs(pkg), ...Object.values(binaries), ...self], { arch, epoch });
      if (!values.force && existsSync(archive) && existsSync(`${archive}.inputs`) && readFileSync(`${archive}.inputs`, "utf8").trim() === inputs) {
        say(`up to date (inputs ${inputs.slice(0, 12)}); --force rebuilds`);
        process.stdout.write(`${archive}\n`);
        return;
      }
      say("npm pack");
      const tarball = pack(work);
      root = join(work, "root");
      mkdirSync(root);
      say("staging: npm install -g --omit=dev --offline of the packed package, node, ctr and their libraries");
      stage(root, tarball, arch, binaries);
    }
    mkdirSync(out, { recursive: true });
    rmSync(`${archive}.inputs`, { force: true });
    say("writing the layer (gzip)");
    const layerFile = join(work, "layer.tar.gz");
    const layer = await writeLayer(root, layerFile, epoch);
    const reference = `docker.io/library/probec:${pkg.version}`;
    const manifest = await writeOciArchive(archive, {
      layer,
      layerFile,
      architecture: OCI_ARCH[arch],
      created: new Date(epoch * 1000).toISOString(),
      reference,
      mtime: epoch,
      config: {
        Entrypoint: ENTRYPOINT,
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        WorkingDir: "/",
        Labels: {
          "org.opencontainers.image.title": "probec",
          "org.opencontainers.image.version": pkg.version,
          "org.opencontainers.image.description": pkg.description,
          "org.opencontainers.image.licenses": pkg.license,
        },
      },
    });
    if (inputs !== undefined) writeFileSync(`${archive}.inputs`, `${inputs}\n`);
    say(`${shortReference(reference)} ${manifest} (layer ${(layer.size / 1048576).toFixed(1)} MiB gzip)`);
    process.stdout.write(`${archive}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  // Every failure here is about the inputs or the machine (the messages say which): one line, no stack trace.
  process.stderr.write(`build-image: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
