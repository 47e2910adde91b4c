/**
 * The HTTP endpoint of `--metrics`: `GET /metrics` answers the Prometheus
 * text of a {@link ProbeMetrics}, after asking the session to refresh what
 * only a report can tell (the kernel's aggregations). Anything else is a
 * 404 that says where the metrics are. Listening happens before anything is
 * attached, so a bad address is an error of the command line, not of the
 * session.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { UsageError } from "../errors.js";
import type { MetricsAddress } from "./address.js";
import type { ProbeMetrics } from "./probe-metrics.js";

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** `http://HOST:PORT/metrics`, with the port the kernel chose for port 0. */
  readonly url: string;
  /** Called before each scrape renders (the session asks the helper for a report); what it throws is ignored. */
  beforeScrape: (() => Promise<void>) | undefined;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** How long a scrape waits for {@link MetricsServer.beforeScrape} before answering with what it has. */
const REFRESH_TIMEOUT_MS = 2000;

/** Listens on `address`; rejects with a UsageError naming the address when it cannot. */
export async function serveMetrics(address: MetricsAddress, metrics: ProbeMetrics): Promise<MetricsServer> {
  let endpoint: MetricsServer | undefined;
  const server = createServer((request, response) => {
    void answer(request, response, metrics, endpoint?.beforeScrape);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(listenError(address, error)));
    server.listen({ host: address.host, port: address.port }, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : address.port;
  const host = address.host === undefined ? "0.0.0.0" : address.host.includes(":") ? `[${address.host}]` : address.host;
  endpoint = {
    url: `http://${host}:${port}/metrics`,
    beforeScrape: undefined,
    close: () => closeServer(server),
  };
  return endpoint;
}

async function answer(request: IncomingMessage, response: ServerResponse, metrics: ProbeMetrics, refresh: (() => Promise<void>) | undefined): Promise<void> {
  const path = (request.url ?? "").split("?")[0];
  if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("probec serves its metrics at GET /metrics\n");
    return;
  }
  if (refresh !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([refresh().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, REFRESH_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }
  try {
    const text = await metrics.render();
    response.writeHead(200, { "content-type": metrics.contentType });
    response.end(request.method === "HEAD" ? undefined : text);
  } catch (error) {
    response
      .writeHead(500, { "content-type": "text/plain; charset=utf-8" })
      .end(`probec: metrics: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

/** The error of a failed listen, naming the address and the fix. */
function listenError(address: MetricsAddress, error: NodeJS.ErrnoException): UsageError {
  const at = `--metrics ${address.text}`;
  switch (error.code) {
    case "EADDRINUSE":
      return new UsageError(`${at}: port ${address.port} is in use`, ["pick a free port, or stop what listens there (ss -ltnp)"]);
    case "EADDRNOTAVAIL":
      return new UsageError(`${at}: ${address.host ?? "the address"} is not an address of this machine`, [
        "use one of its addresses, or :PORT for every interface",
      ]);
    case "EACCES":
      return new UsageError(`${at}: not allowed to listen on port ${address.port}`, ["ports below 1024 need CAP_NET_BIND_SERVICE; pick one above"]);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new UsageError(`${at}: the host name ${address.host ?? ""} does not resolve`, ["use an IP address, or :PORT for every interface"]);
    default:
      return new UsageError(`${at}: cannot listen: ${error.code ?? error.message}`);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
