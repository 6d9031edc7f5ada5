/**
 * The memory adapter: the storage contract and the HTTP protocol suite in process, then blob GETs
 * over a real socket on the runtime running this file, on its native server and on the node:http
 * bridge: whole and ranged bodies above 1 MiB carry their Content-Length (Bun drops it for stream
 * bodies, oven-sh/bun#10507, so the adapter must give it something else there).
 *
 * @module
 */
import assert from "node:assert/strict";
import { suite } from "uvu";
import { detectRuntime } from "../lib/server/serve.ts";
import { type StartedRegistry, startRegistry } from "../lib/server/start.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import { protocolSuite } from "./protocol/mod.ts";
import { sha256 } from "../lib/testing/content.ts";
import { storageContract } from "../lib/testing/storage_contract.ts";

const contract = suite("memory storage contract");
storageContract("memory", () => memoryStorage(), { test: contract });
contract.run();
protocolSuite("memory", () => memoryStorage());

const RUNTIME = detectRuntime();
const MiB = 1024 * 1024;

/** `size` bytes that differ from position to position (so an offset mistake shows). */
function patterned(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 11)) & 255;
  return bytes;
}

const socket = suite(`memory over a socket (${RUNTIME})`);
const bytes = patterned(3 * MiB + 5);
const digest = sha256(bytes);

for (const server of ["native", "node"] as const) {
  socket(
    `${server} server: blob GETs over 1 MiB, whole and ranged, carry Content-Length`,
    async () => {
      let running: StartedRegistry | undefined;
      try {
        running = await startRegistry({ storage: memoryStorage(), port: 0, server });
        const push = await fetch(`${running.url}/v2/big/blobs/uploads/?digest=${digest}`, {
          method: "POST",
          body: bytes,
          headers: { "Content-Type": "application/octet-stream" },
        });
        assert.equal(push.status, 201, await push.text());

        const url = `${running.url}/v2/big/blobs/${digest}`;
        const whole = await fetch(url);
        assert.equal(whole.status, 200);
        assert.equal(whole.headers.get("Content-Length"), String(bytes.byteLength));
        assert.equal(whole.headers.get("Transfer-Encoding"), null, "not chunked");
        assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), bytes);

        const [start, end] = [1000, 2 * MiB + 999];
        const ranged = await fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
        assert.equal(ranged.status, 206);
        assert.equal(ranged.headers.get("Content-Length"), String(end - start + 1));
        assert.equal(ranged.headers.get("Content-Range"), `bytes ${start}-${end}/${bytes.length}`);
        assert.equal(ranged.headers.get("Transfer-Encoding"), null, "not chunked");
        const got = new Uint8Array(await ranged.arrayBuffer());
        assert.deepEqual(got, bytes.subarray(start, end + 1));

        // What a client did with the bytes it read does not reach the stored blob.
        got.fill(0);
        const again = await fetch(url, { headers: { Range: `bytes=${start}-${start + 9}` } });
        assert.deepEqual(
          new Uint8Array(await again.arrayBuffer()),
          bytes.subarray(start, start + 10),
        );
      } finally {
        await running?.close();
      }
    },
  );
}

socket.run();
