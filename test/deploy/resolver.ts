/**
 * The program the DaemonSet test runs in its pods: on SIGUSR1 it calls libc's
 * getaddrinfo five times (numeric host and service, so no resolver or
 * /etc/hosts is involved: the call itself is what the ConfigMap's probe
 * counts) and prints each call, "getaddrinfo 127.0.0.1 N", so the test
 * compares a pod's hits with the calls it says it made. Built once per
 * source at a fixed host path; its image (the binary and the libraries ldd
 * lists) is named by the source's hash, so it is reused across runs.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker } from "../support/dockerd.js";
import { buildRootfs } from "../support/rootfs.js";

/** Calls made per SIGUSR1. */
export const CALLS_PER_ROUND = 5;

const SOURCE = String.raw`
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t pending;
static void on_usr1(int sig) { (void)sig; pending++; }

int main(void) {
  long calls = 0;
  signal(SIGUSR1, on_usr1);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    pause();
    while (pending > 0) {
      pending--;
      for (int i = 0; i < ${CALLS_PER_ROUND}; i++) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        if (getaddrinfo("127.0.0.1", "80", &hints, &res) == 0) freeaddrinfo(res);
        printf("getaddrinfo 127.0.0.1 %ld\n", ++calls);
      }
      fflush(stdout);
    }
  }
}
`;

const TAG = createHash("sha256").update(SOURCE).digest("hex").slice(0, 12);
/** Where the binary is, on the host and in the image. */
export const RESOLVER_BINARY = `/tmp/probec-deploy-resolver-${TAG}`;
/** Its image, in the test Docker daemon. */
export const RESOLVER_IMAGE = `probec.test/resolver:${TAG}`;

/** Compiles the program unless this source's binary is there, and imports its image into the test daemon unless it has it. */
export function buildResolverImage(): string {
  if (!existsSync(RESOLVER_BINARY)) {
    writeFileSync(`${RESOLVER_BINARY}.c`, SOURCE);
    execFileSync("gcc", ["-O1", "-o", RESOLVER_BINARY, `${RESOLVER_BINARY}.c`]);
  }
  try {
    docker(["image", "inspect", "--format", "{{.Id}}", RESOLVER_IMAGE]);
    return RESOLVER_IMAGE;
  } catch {
    // Not imported yet.
  }
  const dir = mkdtempSync(join(tmpdir(), "probec-resolver-"));
  try {
    const tar = execFileSync("tar", ["-C", buildRootfs(dir, [RESOLVER_BINARY]), "-c", "."], { maxBuffer: 64 << 20 });
    docker(["import", "-c", `ENTRYPOINT ["${RESOLVER_BINARY}"]`, "-", RESOLVER_IMAGE], tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return RESOLVER_IMAGE;
}
