/**
 * One Docker image holding every end-to-end fixture, imported offline
 * (`docker import` of a rootfs tarball) into the tests' own dockerd:
 *
 *     /app/zoo_app /app/malloc_app /app/usdt_app /app/gai_app /app/dl_app
 *     /app/x_app /app/worker /app/worker-v2
 *     /usr/lib/libzoo.so /usr/lib/libprobec_dl.so
 *     /usr/lib/libx.so -> /opt/probec-real/libx.so     (absolute symlink)
 *     /opt/probec-real/libx.so                          (the real one)
 *     /etc/nsswitch.conf ("hosts: files dns"), /etc/hosts, /tmp, /out
 *     the host's libc and loader at their paths (what ldd says the programs load)
 *
 * The image is named by the fixtures' hash (`probec-attach-e2e:<hash>`) and
 * reused while it exists; test files that import it at the same moment
 * each get a working image id (the tag goes to the last).
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import tmp from "tmp";
import { docker, importImage } from "../../../support/dockerd.js";
import { runtimeFiles } from "../../../support/rootfs.js";
import type { FixtureName, Fixtures } from "./fixtures.js";

/** Where the container has the real libx.so, and the host its decoy (test 7). */
export const REAL_LIBX_DIR = "/opt/probec-real";

const APPS: FixtureName[] = ["zoo_app", "malloc_app", "usdt_app", "gai_app", "dl_app", "x_app", "worker", "worker-v2"];
const LIBS: FixtureName[] = ["libzoo.so", "libprobec_dl.so"];

/** The image's id, importing it first when the daemon does not have it. */
export function fixtureImage(fixtures: Fixtures): string {
  const name = `probec-attach-e2e:${fixtures.hash}`;
  try {
    return docker(["image", "inspect", "--format", "{{.Id}}", name]);
  } catch {
    // Not there yet.
  }
  const root = tmp.dirSync({ prefix: "probec-attach-rootfs-", unsafeCleanup: true });
  try {
    const put = (from: string, to: string): void => {
      mkdirSync(dirname(join(root.name, to)), { recursive: true });
      copyFileSync(from, join(root.name, to));
    };
    for (const app of APPS) {
      put(fixtures.path(app), `/app/${app}`);
      // libc and the loader: ldd's answers outside the build directory (libzoo.so and libx.so are "not found" on the host).
      for (const file of runtimeFiles(fixtures.path(app)).slice(1)) put(file, file);
    }
    for (const lib of LIBS) put(fixtures.path(lib), `/usr/lib/${lib}`);
    put(fixtures.path("libx.so"), `${REAL_LIBX_DIR}/libx.so`);
    symlinkSync(`${REAL_LIBX_DIR}/libx.so`, join(root.name, "usr/lib/libx.so"));
    mkdirSync(join(root.name, "etc"), { recursive: true });
    writeFileSync(join(root.name, "etc/nsswitch.conf"), "hosts: files dns\n");
    writeFileSync(join(root.name, "etc/hosts"), "127.0.0.1 localhost\n");
    mkdirSync(join(root.name, "tmp"), { mode: 0o1777 });
    mkdirSync(join(root.name, "out"));
    return importImage(name, root.name);
  } finally {
    root.removeCallback();
  }
}
