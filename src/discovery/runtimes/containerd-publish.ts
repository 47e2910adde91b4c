/**
 * Publishes one event on containerd's event exchange: the Events service's
 * `Publish` (containerd api/services/events/v1/events.proto), a unary gRPC
 * call made here over node:http2 on containerd's socket. `ctr` has no
 * command for it, and the follow session needs exactly this one call (its
 * sync event, containerd-events.ts), so probec speaks it itself rather
 * than take on a gRPC library and containerd's protos.
 *
 * The request is two nested protobuf messages, written by hand:
 *
 *     PublishRequest { string topic = 1; google.protobuf.Any event = 2; }
 *     google.protobuf.Any { string type_url = 1; bytes value = 2; }
 *
 * framed as gRPC frames a message (a zero "compressed" byte, the length as
 * four big-endian bytes). The namespace travels in the `containerd-namespace`
 * metadata header (containerd namespaces/grpc.go); containerd checks it and
 * the topic (events/exchange/exchange.go, Publish) and answers
 * `grpc-status` 3 (InvalidArgument) when either is not an identifier.
 */
import { connect, type IncomingHttpHeaders } from "node:http2";
import { createConnection } from "node:net";
import { IoError } from "../../errors.js";

/** What one published event is. */
export interface PublishedEvent {
  /** The containerd namespace it is published in (need not exist: the exchange does not look it up). */
  readonly namespace: string;
  /** `/`-separated identifiers (`/probec/live/3f2a`). */
  readonly topic: string;
  /** The type of its payload, as containerd's typeurl names types (`google.protobuf.Empty`: no prefix). */
  readonly typeUrl: string;
  /** The payload, encoded; empty for `google.protobuf.Empty`. */
  readonly value?: Uint8Array;
}

/**
 * Publishes `event` on the containerd at `socketPath`; resolves once
 * containerd has handed it to its exchange, that is to every subscription
 * registered by then. One connection per call: a session publishes a
 * handful of events at most.
 *
 * @throws IoError when containerd cannot be reached, does not answer within `timeoutMs`, or refuses the event.
 */
export function publishEvent(socketPath: string, event: PublishedEvent, timeoutMs: number): Promise<void> {
  const what = `containerd: publishing ${event.topic} on ${socketPath}`;
  const hints = ["is containerd running, and are you root?"];
  return new Promise((resolve, reject) => {
    let failure: IoError | undefined;
    const session = connect("http://containerd", { createConnection: () => createConnection(socketPath) });
    // A refused connection fails the session, and the call with it.
    session.on("error", (error: NodeJS.ErrnoException) => {
      failure ??= new IoError(`${what}: ${error.message}`, error.code, hints);
    });
    const req = session.request({
      ":method": "POST",
      ":path": "/containerd.services.events.v1.Events/Publish",
      "content-type": "application/grpc",
      te: "trailers",
      "containerd-namespace": event.namespace,
    });
    const timer = setTimeout(() => {
      failure ??= new IoError(`${what}: no answer within ${timeoutMs} ms`, "ETIMEDOUT", hints);
      req.close();
    }, timeoutMs);
    let status: string | undefined;
    let message = "";
    const read = (headers: IncomingHttpHeaders): void => {
      const s = headers["grpc-status"];
      if (typeof s !== "string") return;
      status = s;
      message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    };
    // A call refused at once answers in its headers alone ("trailers-only"); one that ran, in its trailers.
    req.on("response", read);
    req.on("trailers", read);
    req.on("error", (error: NodeJS.ErrnoException) => {
      failure ??= new IoError(`${what}: ${error.message}`, error.code, hints);
    });
    req.resume(); // the answer's body is an empty message
    req.on("close", () => {
      clearTimeout(timer);
      session.close();
      if (status === "0") resolve();
      else if (status !== undefined) reject(new IoError(`${what}: containerd refused it (gRPC status ${status}): ${message}`));
      else reject(failure ?? new IoError(`${what}: the call ended without a gRPC status`, undefined, hints));
    });
    req.end(grpcFrame(publishRequest(event)));
  });
}

/** `PublishRequest { topic = 1; event = 2 (Any { type_url = 1; value = 2 }) }`, encoded. */
export function publishRequest(event: PublishedEvent): Uint8Array {
  const any = concat([
    field(1, new TextEncoder().encode(event.typeUrl)),
    event.value === undefined || event.value.length === 0 ? new Uint8Array() : field(2, event.value),
  ]);
  return concat([field(1, new TextEncoder().encode(event.topic)), field(2, any)]);
}

/** One gRPC message frame: not compressed, then the length, big-endian. */
function grpcFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** A length-delimited protobuf field (wire type 2): the key, the length as a varint, the bytes. */
function field(number: number, bytes: Uint8Array): Uint8Array {
  return concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Uint8Array.from(out);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
