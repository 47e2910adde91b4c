/**
 * `--metrics ADDR`: where the Prometheus endpoint listens. Checked before
 * anything is attached, so that a typo is an error naming it, not a session
 * that runs without the metrics someone scrapes for.
 *
 *     127.0.0.1:9464   one interface
 *     :9464            every interface (what a DaemonSet's scrape needs)
 *     [::1]:9464       an IPv6 address, in brackets as in a URL
 *     localhost:0      a free port chosen by the kernel (the status line says which)
 */
import { UsageError } from "../errors.js";

/** A parsed `--metrics` address: `host` undefined means every interface. */
export interface MetricsAddress {
  /** As the user wrote it, for messages. */
  readonly text: string;
  readonly host: string | undefined;
  readonly port: number;
}

const EXAMPLES = ["write HOST:PORT, :PORT (every interface) or [IPv6]:PORT, e.g. --metrics 127.0.0.1:9464"];

/** Parses ADDR; a UsageError naming it when it is not `HOST:PORT`, `:PORT` or `[IPv6]:PORT`. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const bracketed = /^\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]:([^:]*)$/.exec(text);
  const plain = /^([^:[\]\s/]*):([^:]*)$/.exec(text);
  const match = bracketed ?? plain;
  if (match === null) throw new UsageError(`--metrics ${text}: not an address to listen on`, EXAMPLES);
  const host = match[1] === "" ? undefined : match[1];
  const portText = match[2] ?? "";
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535)
    throw new UsageError(`--metrics ${text}: the port "${portText}" is not a number from 0 to 65535`, EXAMPLES);
  return { text, host, port: Number(portText) };
}
