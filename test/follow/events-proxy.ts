/**
 * A proxy of the test Docker daemon's socket that answers `GET /events` at
 * once, with a 200 of its own, and sends the request on to the daemon only
 * when the test releases it: the order dockerd itself follows (it flushes
 * its 200 before it subscribes, moby getEvents) stretched as long as the
 * test likes. A container started before the release is one the daemon's
 * stream can only give back by replaying it (the request's `since`). Every
 * other request passes through untouched.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** The proxy: its socket, the `/events` requests it holds, and the release of them. */
export interface EventsProxy {
  readonly socket: string;
  /** The request lines of the `/events` requests held so far. */
  readonly held: string[];
  /** Sends the held requests (and later ones) on to the daemon. */
  release(): void;
  close(): Promise<void>;
}

const HEAD_END = "\r\n\r\n";

/** Starts a proxy at `socket` in front of the daemon at `upstream`. */
export async function startEventsProxy(socket: string, upstream: string): Promise<EventsProxy> {
  const held: string[] = [];
  const waiting: (() => void)[] = [];
  let released = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (!head.includes(HEAD_END)) return;
      client.off("data", onData);
      client.pause();
      const requestLine = head.toString("latin1").split("\r\n")[0] ?? "";
      if (!/^GET \/(?:v[\d.]+\/)?events[?\s]/.test(requestLine)) {
        pipe(client, head);
        return;
      }
      held.push(requestLine);
      client.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
      const go = (): void => forwardBody(client, head);
      if (released) go();
      else waiting.push(go);
    };
    client.on("data", onData);
    client.on("error", () => client.destroy());
  });

  /** Both ways, as is. */
  const pipe = (client: Socket, head: Buffer): void => {
    const up = createConnection(upstream);
    sockets.add(up);
    up.write(head);
    client.pipe(up).pipe(client);
    client.resume();
    const drop = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on("close", drop);
    up.on("error", drop).on("close", drop);
  };

  /** The request to the daemon, and its answer's body (chunked, as the 200 above said) back, without its head. */
  const forwardBody = (client: Socket, head: Buffer): void => {
    const up = createConnection(upstream);
    sockets.add(up);
    up.write(head);
    let answer = Buffer.alloc(0);
    let streaming = false;
    up.on("data", (chunk: Buffer) => {
      if (streaming) {
        client.write(chunk);
        return;
      }
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf(HEAD_END);
      if (end < 0) return;
      if (!answer.toString("latin1").startsWith("HTTP/1.1 200")) {
        client.destroy();
        return;
      }
      streaming = true;
      client.write(answer.subarray(end + HEAD_END.length));
    });
    const drop = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on("close", drop).resume();
    up.on("error", drop).on("close", drop);
  };

  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    held,
    release: () => {
      released = true;
      for (const go of waiting.splice(0)) go();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
