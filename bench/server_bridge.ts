/**
 * A trivial fetch handler on the current runtime's server, to measure the server layer alone
 * (drive it with wrk and curl; see bench/server_bridge.sh):
 * - `GET /small`: a 2-byte JSON body with Content-Length (req/s);
 * - `PATCH /upload`: hashes the streamed request body with sha256 and answers its size (MB/s);
 * - `GET /download?size=N&chunk=K`: N bytes in K-byte chunks from one buffer (MB/s).
 *
 * Usage: `<runtime> bench/server_bridge.ts [node]` (`node` forces the node:http bridge on Deno
 * or Bun). Prints the URL, serves until killed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import process from "node:process";
import { serveNode } from "../lib/server/node.ts";
import { serve } from "../lib/server/serve.ts";
import type { FetchHandler } from "../lib/server/types.ts";

const handler: FetchHandler = async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/small") {
    return new Response("{}", {
      headers: { "Content-Type": "application/json", "Content-Length": "2" },
    });
  }
  if (url.pathname === "/upload") {
    const hash = createHash("sha256");
    let size = 0;
    if (request.body) {
      for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
    }
    return new Response(`${size} ${hash.digest("hex")}\n`, { status: 202 });
  }
  if (url.pathname === "/download") {
    const size = Number(url.searchParams.get("size") ?? 1 << 30);
    const chunk = Number(url.searchParams.get("chunk") ?? 256 * 1024);
    const buffer = new Uint8Array(chunk).fill(97);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const n = Math.min(chunk, size - sent);
        sent += n;
        controller.enqueue(n === chunk ? buffer.slice() : buffer.slice(0, n));
      },
    }, { highWaterMark: 0 });
    return new Response(body, { headers: { "Content-Length": String(size) } });
  }
  return new Response("not found\n", { status: 404 });
};

const port = Number(process.env.PORT ?? 0);
const gcNudgeBytes = process.env.GC_NUDGE_MB === undefined
  ? undefined
  : Number(process.env.GC_NUDGE_MB) * 1024 * 1024;
const server = process.argv.includes("node")
  ? await serveNode(handler, { port, gcNudgeBytes })
  : await serve(handler, { port, gcNudgeBytes });
console.log(server.url);
