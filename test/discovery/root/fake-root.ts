/**
 * A fake container root for the resolver tests, built in a tmp dir, with a
 * trap for every way a naive walk escapes:
 *
 *   <tmp>/d1/outside                 "host: outside"     (where ../../../../outside escapes to)
 *   <tmp>/d1/d2/root/                the container root
 *     usr/lib/libfoo.so -> /<decoy>/libfoo.so            absolute: must stay in the root
 *     <decoy>/libfoo.so              "container: libfoo"
 *     usr/lib64 -> /usr/lib          absolute link to a directory
 *     usr/lib/hostonly.so -> /<decoy>/hostonly.so        dangling in the root
 *     usr/lib/librel.so -> ../../opt/lib/real.so         relative
 *     usr/lib/chain1 -> chain2 -> /usr/lib/chain3 -> ../../opt/lib/real.so
 *     opt/lib/real.so                "container: real"
 *     usr/lib/escape -> ../../../../outside              clamped at the root
 *     outside                        "container: outside"
 *     usr/lib/loop1 <-> usr/lib/loop2, usr/lib/self -> /usr/lib/self
 *     usr/lib/deep0 -> deep1 -> … -> deep39 -> /opt/lib/real.so   exactly 40 links
 *     usr/lib/deeper -> deep0                                     41 links
 *
 * and on the HOST, at the same absolute path the container's link names,
 *   /<decoy>/libfoo.so             "host: DECOY"
 *   /<decoy>/hostonly.so           "host: DECOY"
 * where <decoy> is `probec-decoy-<random>`, removed by {@link FakeRoot.remove}.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import tmp from "tmp";

export interface FakeRoot {
  /** The container root directory (host path). */
  root: string;
  /** `<tmp>/d1`: where `../../../../outside` lands when not clamped. */
  escapeDir: string;
  /** `/probec-decoy-<random>`: the absolute path the container's libfoo.so link names. */
  decoyDir: string;
  /** Host path of the decoy file outside the container. */
  hostDecoy: string;
  /** Deletes the tmp dir and the host decoy. */
  remove(): void;
}

export const CONTAINER_LIBFOO = "container: libfoo\n";
export const HOST_DECOY = "host: DECOY, must never be read\n";
export const CONTAINER_REAL = "container: real\n";
export const CONTAINER_OUTSIDE = "container: outside\n";
export const HOST_OUTSIDE = "host: outside, must never be read\n";

export function makeFakeRoot(): FakeRoot {
  const dir = tmp.dirSync({ unsafeCleanup: true, prefix: "probec-root-" });
  const escapeDir = join(dir.name, "d1");
  const root = join(escapeDir, "d2", "root");
  const decoyDir = `/probec-decoy-${randomBytes(8).toString("hex")}`;
  const hostDecoy = join(decoyDir, "libfoo.so");

  const file = (path: string, content: string): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  };
  const link = (target: string, at: string): void => {
    mkdirSync(dirname(join(root, at)), { recursive: true });
    symlinkSync(target, join(root, at));
  };

  file(join(escapeDir, "outside"), HOST_OUTSIDE);
  file(join(root, decoyDir, "libfoo.so"), CONTAINER_LIBFOO);
  file(join(root, "opt/lib/real.so"), CONTAINER_REAL);
  file(join(root, "outside"), CONTAINER_OUTSIDE);
  link(`${decoyDir}/libfoo.so`, "usr/lib/libfoo.so");
  link("/usr/lib", "usr/lib64");
  link(`${decoyDir}/hostonly.so`, "usr/lib/hostonly.so");
  link("../../opt/lib/real.so", "usr/lib/librel.so");
  link("chain2", "usr/lib/chain1");
  link("/usr/lib/chain3", "usr/lib/chain2");
  link("../../opt/lib/real.so", "usr/lib/chain3");
  link("../../../../outside", "usr/lib/escape");
  link("loop2", "usr/lib/loop1");
  link("loop1", "usr/lib/loop2");
  link("/usr/lib/self", "usr/lib/self");
  for (let i = 0; i < 39; i++) link(`deep${i + 1}`, `usr/lib/deep${i}`);
  link("/opt/lib/real.so", "usr/lib/deep39");
  link("deep0", "usr/lib/deeper");

  file(hostDecoy, HOST_DECOY);
  file(join(decoyDir, "hostonly.so"), HOST_DECOY);
  return {
    root,
    escapeDir,
    decoyDir,
    hostDecoy,
    remove() {
      rmSync(decoyDir, { recursive: true, force: true });
      dir.removeCallback();
    },
  };
}
