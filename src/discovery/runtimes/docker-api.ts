/**
 * The transport under the Docker client: one HTTP request to the Docker
 * Engine API over its unix socket, with a timeout, a capped reply and errors
 * that say what to do.
 *
 * Only unix sockets are spoken. A `tcp://` daemon would need TLS client
 * certificates (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), and probec must run
 * on the daemon's machine anyway: the PIDs and overlay paths the daemon
 * reports are only meaningful there.
 *
 * Paths are unversioned (`/containers/json`, not `/v1.41/containers/json`):
 * the daemon then answers with its own API version, and every field read
 * here (`Id`, `Names`, `State.Pid`, `GraphDriver`, `Config.Labels`) has had
 * the same shape since API 1.24, the oldest version current daemons accept.
 */
import { request } from "node:http";
import { IoError, NotFoundError, UsageError } from "../../errors.js";

/** Where the daemon listens when `DOCKER_HOST` is unset (the Docker CLI's default too). */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** How long one request may take before probec gives up, in milliseconds. */
export const DEFAULT_DOCKER_TIMEOUT_MS = 10_000;

/**
 * Largest reply accepted, in bytes. A `GET /containers/json` for a thousand
 * containers is about 2 MiB; anything far beyond is not a daemon talking.
 */
export const MAX_DOCKER_REPLY_BYTES = 64 * 1024 * 1024;

/** How to reach the daemon. Every field is optional; the defaults are the Docker CLI's. */
export interface DockerOptions {
  /**
   * A `DOCKER_HOST`-style address, `unix:///path/to/docker.sock`. Defaults to
   * the `DOCKER_HOST` environment variable, then {@link DEFAULT_DOCKER_SOCKET}.
   */
  host?: string;
  /** Per-request timeout in milliseconds; defaults to {@link DEFAULT_DOCKER_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * The socket path named by a `DOCKER_HOST` value: `unix:///run/docker.sock`
 * → `/run/docker.sock`; unset or empty → {@link DEFAULT_DOCKER_SOCKET}.
 *
 * @throws UsageError for `tcp://`, `ssh://`, `fd://` and anything else that is not a unix socket.
 */
export function dockerSocketPath(host: string | undefined = process.env["DOCKER_HOST"]): string {
  if (host === undefined || host === "") return DEFAULT_DOCKER_SOCKET;
  return unixSocketPath(host, "DOCKER_HOST", "the daemon's socket", DEFAULT_DOCKER_SOCKET);
}

/**
 * The path in a `unix:///path` address taken from environment `variable`
 * (DOCKER_HOST, CONTAINER_HOST); anything else is a {@link UsageError}
 * that says only unix sockets are supported and shows `example`.
 */
export function unixSocketPath(address: string, variable: string, what: string, example: string): string {
  const match = /^unix:\/\/(\/.*)$/.exec(address);
  if (match?.[1] !== undefined) return match[1];
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address)?.[1];
  const problem = scheme === undefined ? "is not a unix:// address" : `uses ${scheme}://`;
  throw new UsageError(`${variable}=${address}: ${problem}; only unix sockets are supported`, [
    `point ${variable} at ${what} on this machine, e.g. unix://${example}, or unset it`,
  ]);
}

/**
 * `GET path` on the daemon and the parsed JSON reply.
 *
 * @throws IoError when the socket is missing, refuses, is not ours to open,
 *   times out, or the daemon answers with an error status.
 * @throws NotFoundError when the daemon answers 404 (`No such container: x`).
 */
export async function dockerGet(path: string, options: DockerOptions = {}): Promise<unknown> {
  const socketPath = dockerSocketPath(options.host);
  const timeoutMs = options.timeoutMs ?? DEFAULT_DOCKER_TIMEOUT_MS;
  const what = `docker: GET ${path} on ${socketPath}`;
  const { status, body } = await get(socketPath, path, timeoutMs, what);
  let json: unknown;
  try {
    json = body.length === 0 ? undefined : JSON.parse(body.toString("utf8"));
  } catch {
    throw new IoError(`${what}: reply is not JSON (status ${status})`, undefined, [`is ${socketPath} a Docker daemon's socket?`]);
  }
  if (status >= 200 && status < 300) return json;
  const message = daemonMessage(json) ?? `status ${status}`;
  if (status === 404) throw new NotFoundError(`docker: ${message}`);
  throw new IoError(`${what}: the daemon answered ${status}: ${message}`);
}

function daemonMessage(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const message = (json as Record<string, unknown>)["message"];
  return typeof message === "string" ? message : undefined;
}

function get(socketPath: string, path: string, timeoutMs: number, what: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // Host is required by HTTP/1.1; the daemon ignores its value. No agent: one
    // connection per request, so a restarted daemon never meets a stale kept-alive socket.
    const headers = { Host: "docker" };
    const req = request({ socketPath, path, method: "GET", headers, timeout: timeoutMs, agent: false });
    req.on("timeout", () => {
      req.destroy(new IoError(`${what}: no answer within ${timeoutMs} ms`, "ETIMEDOUT", ["is dockerd hung? check `docker info`, or raise the timeout"]));
    });
    req.on("error", (error) => reject(error instanceof IoError ? error : socketError(error, socketPath, what)));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_DOCKER_REPLY_BYTES) {
          req.destroy(new IoError(`${what}: reply exceeds ${MAX_DOCKER_REPLY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", (error) => reject(socketError(error, socketPath, what)));
    });
    req.end();
  });
}

/** The operating system's refusal, turned into what the user should do about it. */
export function socketError(error: Error, socketPath: string, what: string): IoError {
  const errno = (error as NodeJS.ErrnoException).code;
  switch (errno) {
    case "ENOENT":
      return new IoError(`docker: socket ${socketPath} does not exist; is dockerd running?`, errno, [
        "start dockerd, or set DOCKER_HOST=unix:///path/to/docker.sock",
      ]);
    case "ECONNREFUSED":
      return new IoError(`docker: nothing listens on ${socketPath}; is dockerd running?`, errno, [
        "start dockerd, or set DOCKER_HOST=unix:///path/to/docker.sock",
      ]);
    case "EACCES":
    case "EPERM":
      return new IoError(`docker: permission denied on ${socketPath}`, errno, ["run as root or join the docker group"]);
    case "ENOTSOCK":
      return new IoError(`docker: ${socketPath} is not a socket`, errno, ["set DOCKER_HOST=unix:///path/to/docker.sock"]);
    default:
      return new IoError(`${what}: ${error.message}`, errno);
  }
}
