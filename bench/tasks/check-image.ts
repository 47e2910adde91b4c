/**
 * Task (g): `probec check` of 10 probes in a ~200 MB image (issue 6).
 * Targets: at most 2 s and at most 100 MB peak RSS.
 *
 * The image is built here (test/support/image.ts), once, and kept under
 * /var/tmp/probec-bench-image for later runs: an OCI archive of three gzip
 * layers: python3.11 and node with every library they load and an
 * ld.so.cache made by `ldconfig -r`; ~150 MB of incompressible filler (so
 * that the archive, not only its contents, is ~200 MB); and a small top
 * layer with a whiteout. The 10 probes are USDT probes of python3.11 (the
 * image's Entrypoint, found through PATH) and functions of libc, libm,
 * libstdc++ and node.
 *
 * Rows: `checkImage()` in 5 fresh Node processes (growth over the process
 * before the call), the `probec check` CLI as a whole process (its entire
 * peak RSS, Node's own ~45 MB included: the figure the target is judged
 * on), `probec --version` (what starting the CLI alone costs here), and the by-hand peer people use today: `tar -x` of the archive and
 * of every layer, then `readelf` on the files (which, unlike probec,
 * ignores whiteouts and resolves nothing the way a loader would).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { tarDirectory, tarOf, writeOciLayout, type TarMember } from "../../test/support/image.js";
import { buildRootfs } from "../../test/support/rootfs.js";
import { printTask, type Row } from "../table.js";
import { medianMs, medianPeakRss, peerRow, probecRow } from "./rows.js";

const DIR = "/var/tmp/probec-bench-image";
const IMAGE = join(DIR, "image.tar");
/** Bump when the image's recipe changes, so that an old cached image is rebuilt. */
const RECIPE = "3";
const FILLER_FILES = 15;
const FILLER_BYTES = 10 * 1024 * 1024;
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** The 10 probes: inline targets, resolved in the image as its loader would. */
export const CHECK_TARGETS = [
  "exe:python:function__entry",
  "exe:python:function__return",
  "exe:python:gc__start",
  "exe:python:import__find__load__start",
  "libc:malloc",
  "libc:free",
  "libc:getaddrinfo",
  "libm:lgamma",
  "libstdc++:_ZSt9terminatev",
  "/usr/bin/node:uv_run",
] as const;

/** Builds (or reuses) the bench image; returns its path and the layer blob files, bottom first. */
function benchImage(): { path: string; layers: string[] } {
  const marker = join(DIR, `recipe-${RECIPE}.json`);
  if (existsSync(IMAGE) && existsSync(marker)) return { path: IMAGE, layers: JSON.parse(readFileSync(marker, "utf8")) as string[] };
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const rootDir = buildRootfs(join(DIR, "rootfs"), ["/usr/bin/python3.11", "/usr/bin/node"]);
  mkdirSync(join(rootDir, "etc"), { recursive: true });
  writeFileSync(join(rootDir, "etc/ld.so.conf"), "/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n");
  execFileSync("ldconfig", ["-r", rootDir]);
  const base = tarOfDirectory(rootDir);
  const filler: TarMember[] = Array.from({ length: FILLER_FILES }, (_, i) => ({
    name: `srv/data/blob-${i}.bin`,
    type: "file",
    data: randomBytes(FILLER_BYTES),
  }));
  const top: TarMember[] = [
    { name: "etc/hostname", type: "file", data: Buffer.from("bench\n") },
    { name: "srv/data/.wh.blob-0.bin", type: "file", data: new Uint8Array(0) },
  ];
  const layout = writeOciLayout(join(DIR, "oci"), [
    {
      architecture: "amd64",
      layers: [
        { tar: base, compression: "gzip" },
        { tar: tarOf(filler), compression: "gzip" },
        { tar: tarOf(top), compression: "gzip" },
      ],
      config: { entrypoint: ["python3.11"], env: ["PATH=/usr/local/bin:/usr/bin:/bin"] },
    },
  ]);
  tarDirectory(layout, IMAGE);
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(join(layout, "blobs/sha256", index.manifests[0]?.digest.slice(7) ?? ""), "utf8")) as {
    layers: { digest: string }[];
  };
  const layers = manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`);
  rmSync(layout, { recursive: true, force: true });
  rmSync(rootDir, { recursive: true, force: true });
  writeFileSync(marker, JSON.stringify(layers));
  return { path: IMAGE, layers };
}

/** A tar of a directory, as the system's tar writes it (GNU format, symlinks kept). */
function tarOfDirectory(dir: string): Buffer {
  return execFileSync("tar", ["-C", dir, "-c", "."], { maxBuffer: 1 << 30 });
}

/** Task (g): check 10 probes in a ~200 MB image. */
export async function checkImageTask(print: (line: string) => void): Promise<void> {
  const began = performance.now();
  const { path, layers } = benchImage();
  const size = statSync(path).size;
  const setupS = ((performance.now() - began) / 1000).toFixed(1);
  const title = `(g) probec check: ${CHECK_TARGETS.length} probes in a ${(size / 1024 / 1024).toFixed(0)} MiB OCI archive (3 gzip layers), cold (image ready in ${setupS} s)`;
  const describe = (a: unknown): string => {
    const r = a as { found?: number; total?: number; missing?: string[] } | undefined;
    return r?.found === undefined
      ? `no answer (${JSON.stringify(a)})`
      : `${r.found}/${r.total} found${r.missing !== undefined && r.missing.length > 0 ? `; missing: ${r.missing.join(", ")}` : ""}`;
  };
  const api: Row = { ...probecRow("probec checkImage()", "fresh process", "probec-check", { path, names: CHECK_TARGETS }, 5, describe), bytesHow: "rchar" };
  const cli = peerRow(
    "probec check (CLI, whole process)",
    { stages: [[process.execPath, CLI, "check", "--image", path, ...CHECK_TARGETS]], capture: true, warmup: 1, runs: 5, budgetS: 30, timeoutS: 60 },
    (out) => {
      const summary = out.trim().split("\n").at(-1) ?? "";
      return summary.replace(/ in .*$/, "");
    },
  );
  // What starting the CLI costs on this machine, without checking anything: the floor under the row above.
  const startup = peerRow(
    "probec --version (CLI start only)",
    { stages: [[process.execPath, CLI, "--version"]], capture: true, warmup: 1, runs: 5, budgetS: 30, timeoutS: 60 },
    (out) => out.trim(),
  );
  // By hand: unpack the archive, then every layer in order, then readelf on what the probes name.
  const script = [
    "set -e",
    `d=$(mktemp -d -p ${DIR})`,
    `tar -xf ${path} -C "$d"`,
    'mkdir "$d/root"',
    ...layers.map((l) => `tar -xzf "$d/${l}" -C "$d/root"`),
    'readelf -n "$d/root/usr/bin/python3.11" | grep -cE "function__entry|function__return|gc__start|import__find__load__start" || true',
    'readelf -Ws --dyn-syms "$d/root/lib/x86_64-linux-gnu/libc.so.6" | grep -cE " (malloc|free|getaddrinfo)@@" || true',
    'readelf -Ws --dyn-syms "$d/root/lib/x86_64-linux-gnu/libm.so.6" | grep -cE " cos@@" || true',
    'readelf -Ws --dyn-syms "$d/root/lib/x86_64-linux-gnu/libstdc++.so.6" | grep -cE " _ZSt9terminatev@@" || true',
    'readelf -Ws "$d/root/usr/bin/node" | grep -cE " uv_run$" || true',
    'rm -rf "$d"',
  ].join("\n");
  const peer = peerRow(
    "tar -x (archive, layers) + readelf",
    { stages: [["sh", "-c", script]], capture: true, warmup: 0, runs: 3, budgetS: 60, timeoutS: 120 },
    (out) => {
      const counts = out.trim().split("\n").map(Number);
      return `${counts.reduce((a, b) => a + b, 0)} symbol/probe lines (${counts.join("+")}), no whiteouts, no loader rules`;
    },
  );
  printTask(
    print,
    title,
    [api, cli, startup, peer],
    [
      { what: "probec check (CLI, whole process) median time", value: medianMs(cli), limit: 2000, unit: "ms" },
      { what: "probec check (CLI, whole process) peak RSS", value: medianPeakRss(cli), limit: 100 * 1024 * 1024, unit: "bytes" },
    ],
  );
}
