/**
 * Podman containers, asked of Podman's API service over its unix socket.
 *
 * `podman system service` serves two APIs on one socket: libpod's own
 * (`/v4.0.0/libpod/containers/…`, which needs a version prefix) and a
 * Docker-compatible one at Docker's paths (`/_ping`, `/containers/json`,
 * `/containers/{id}/json`). probec speaks the compatible one, through the
 * Docker client itself: {@link findPodmanContainer} is `findContainer` of
 * `docker.ts` pointed at Podman's socket, with the same reference rules (full
 * id, name with or without `/`, unique id prefix of at least 4 hex digits)
 * and the same {@link ContainerInfo}.
 *
 * What differs from dockerd, as seen with Podman 4.3 (API 1.41):
 *
 * - `GraphDriver.Name` is `overlay` (containers/storage), not `overlay2`;
 *   `LowerDir`, `UpperDir`, `MergedDir` are there, under Podman's `--root`
 *   (`/var/lib/containers/storage/overlay/<layer>/diff`).
 * - `Name` and `Names` carry Docker's leading `/` on the compatible API
 *   (libpod's own API has none); the client strips it either way.
 * - `Image` in the list is fully qualified (`localhost/sleep:latest` for an
 *   imported image), `Config.Labels` is `{}` rather than `null` when empty.
 * - A 404's body is `{"cause":…,"message":"no container with name or ID \"x\" found: …","response":404}`.
 * - `GET /containers/{id}/top` streams (it never ends the reply), so the
 *   Docker client's `containerPids` must not be used here: the processes come
 *   from cgroups (`libpod-<id>` or `libpod-<id>.scope`), as for every runtime.
 *
 * Error messages from the shared client are relabelled (`docker:` →
 * `podman:`, `DOCKER_HOST` → `CONTAINER_HOST`, …) so the user is told about
 * the runtime they named.
 */
import { ProbecError } from "../../errors.js";
import { unixSocketPath } from "./docker-api.js";
import { findContainer, type ContainerInfo } from "./docker.js";

export type { ContainerInfo } from "./docker.js";

/** Where rootful Podman's API socket is when `CONTAINER_HOST` is unset (`podman.socket`'s unit). */
export const DEFAULT_PODMAN_SOCKET = "/run/podman/podman.sock";

/** How to reach Podman's API service. */
export interface PodmanOptions {
  /**
   * A `CONTAINER_HOST`-style address, `unix:///path/to/podman.sock`. Defaults
   * to the `CONTAINER_HOST` environment variable, then {@link DEFAULT_PODMAN_SOCKET}
   * for root, `$XDG_RUNTIME_DIR/podman/podman.sock` for anyone else.
   */
  host?: string;
  /** Per-request timeout in milliseconds; the Docker client's default otherwise. */
  timeoutMs?: number;
}

/**
 * The socket path named by a `CONTAINER_HOST` value: `unix:///run/p.sock` →
 * `/run/p.sock`; unset or empty → the default for this user (see {@link PodmanOptions.host}).
 *
 * @throws UsageError for `ssh://`, `tcp://` and anything that is not a unix socket.
 */
export function podmanSocketPath(host: string | undefined = process.env["CONTAINER_HOST"]): string {
  if (host === undefined || host === "") {
    const runtimeDir = process.env["XDG_RUNTIME_DIR"];
    if (process.getuid?.() !== 0 && runtimeDir !== undefined && runtimeDir !== "") return `${runtimeDir}/podman/podman.sock`;
    return DEFAULT_PODMAN_SOCKET;
  }
  return unixSocketPath(host, "CONTAINER_HOST", "Podman's socket", DEFAULT_PODMAN_SOCKET);
}

/**
 * The running Podman container `ref` names: a full id, a name, or a unique id
 * prefix of at least 4 hex digits (`findContainer`'s rules).
 *
 * @throws NotFoundError naming the nearest running containers, or saying the container is stopped.
 * @throws AmbiguousError when a prefix matches several ids.
 * @throws UsageError for a too-short id prefix or a non-unix `CONTAINER_HOST`.
 * @throws IoError when the service does not answer (`podman system service`, `podman.socket`).
 */
export async function findPodmanContainer(ref: string, options: PodmanOptions = {}): Promise<ContainerInfo> {
  const host = `unix://${podmanSocketPath(options.host)}`;
  const dockerOptions = options.timeoutMs === undefined ? { host } : { host, timeoutMs: options.timeoutMs };
  try {
    return await findContainer(ref, dockerOptions);
  } catch (error) {
    if (error instanceof ProbecError) throw relabel(error);
    throw error;
  }
}

/** The shared client's wording, for Podman. Keeps the error's class, code and errno. */
function relabel<E extends ProbecError>(error: E): E {
  const text = (s: string): string =>
    s
      .replace(/^docker: /, "podman: ")
      .replace(/\bis dockerd running\?/g, "is the podman service running?")
      .replace(/\bis dockerd hung\?/g, "is the podman service hung?")
      .replace(/\bstart dockerd\b/g, "start it (systemctl start podman.socket, or podman system service --time=0)")
      .replace(/\bjoin the docker group\b/g, "use rootless podman's own socket")
      .replace(/\bDOCKER_HOST=unix:\/\/\/path\/to\/docker\.sock\b/g, "CONTAINER_HOST=unix:///path/to/podman.sock")
      .replace(/\bDOCKER_HOST\b/g, "CONTAINER_HOST")
      .replace(/\bdocker (start|ps|info)\b/g, "podman $1");
  error.message = text(error.message);
  // hints is readonly to callers; rewriting it here, where the error is made, keeps its class.
  (error as { hints: readonly string[] }).hints = error.hints.map(text);
  return error;
}
