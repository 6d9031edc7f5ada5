/**
 * A local webhook sink on 127.0.0.1 (node:http, which Node, Deno and Bun all implement) for the
 * notification tests: records every request and answers as the test says (a status, a delay, or
 * never).
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AddressInfo } from "node:net";

/** One request the sink received. */
export interface SinkRequest {
  headers: IncomingMessage["headers"];
  body: string;
  /** Parsed body when it is JSON. */
  json: unknown;
}

/** How to answer the n-th request (0-based): a status, after `delayMs`, or `hang` for never. */
export type SinkBehaviour = (n: number) => { status?: number; delayMs?: number; hang?: boolean };

/** A running sink. */
export interface Sink {
  url: string;
  received: SinkRequest[];
  /** Requests answered (any status). */
  answered: number;
  close(): Promise<void>;
}

/** Start a sink. */
export async function startSink(behaviour: SinkBehaviour = () => ({})): Promise<Sink> {
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let n = 0;
  const sink: Sink = {
    url: "",
    received: [],
    answered: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      sink.received.push({ headers: req.headers, body, json });
      const how = behaviour(n++);
      if (how.hang) return;
      const answer = () => {
        sink.answered++;
        res.writeHead(how.status ?? 202, { "Content-Length": "0" });
        res.end();
      };
      if (how.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, how.delayMs);
        timers.add(t);
      } else answer();
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  return sink;
}
