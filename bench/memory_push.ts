/**
 * Memory of a push into the in-memory adapter: a 256 MiB blob streamed in 1 MiB chunks through
 * `registry.fetch` (no sockets) should grow the process by about the stored bytes, not twice.
 *
 * Run: `npx tsx bench/memory_push.ts` (or `deno run -A`, `bun`). Prints RSS before and after.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createRegistry } from "../lib/registry.ts";

const MiB = 1024 * 1024;
const size = Number(process.env.SIZE_MIB ?? 256) * MiB;
const chunk = new Uint8Array(MiB).map((_, i) => i % 251);

function body(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      controller.enqueue(chunk.slice());
      sent += MiB;
    },
  });
}

const hash = createHash("sha256");
for (let i = 0; i < size / MiB; i++) hash.update(chunk);
const digest = `sha256:${hash.digest("hex")}`;

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const before = process.memoryUsage().rss;
const registry = createRegistry();
const started = performance.now();
const res = await registry.fetch(
  new Request(`http://localhost/v2/bench/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    body: body(),
    duplex: "half",
  } as RequestInit),
);
const ms = performance.now() - started;
gc?.();
const after = process.memoryUsage().rss;
const grown = (after - before) / MiB;
console.log(
  `status ${res.status}; pushed ${size / MiB} MiB in ${ms.toFixed(0)} ms; ` +
    `RSS grew ${grown.toFixed(0)} MiB (${(grown / (size / MiB)).toFixed(2)}x the stored bytes)`,
);
