/**
 * The benchmark's HTTP client, run as its own process (`tsx bench/client.ts`) so the server under
 * test never shares an event loop with it. It reads one JSON command per line on stdin and answers
 * one JSON line on stdout (`{ ok: true, ...result }` or `{ ok: false, error }`).
 *
 * Payloads are a 16 MiB random block repeated: generated and digested by `prepare` before any
 * timing starts, then written straight from memory with node:http (keep-alive, backpressure
 * respected), so the client costs little more than the socket writes.
 *
 * @module
 */
import { createHash, randomFillSync } from "node:crypto";
import http from "node:http";
import { createInterface } from "node:readline";

const BLOCK = 16 * 1024 * 1024;
const STREAM_WRITE = 256 * 1024;

/** A generated payload: `size` bytes of `block` repeated, and its digest. */
interface Payload {
  block: Buffer;
  size: number;
  digest: string;
}

const payloads = new Map<string, Payload>();
const agents = new Map<string, http.Agent>();

function agentFor(base: string, sockets = 1): http.Agent {
  const key = `${base} ${sockets}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    agents.set(key, agent);
  }
  return agent;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** Body parts written in order (backpressure respected); none → empty body. */
  body?: Iterable<Uint8Array>;
  /** Count the response bytes without keeping them. */
  discard?: boolean;
  sockets?: number;
}

function request(base: string, target: string, options: RequestOptions = {}): Promise<Reply> {
  const url = new URL(target, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? "GET",
      headers: options.headers,
      agent: agentFor(base, options.sockets),
    }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (!options.discard) chunks.push(chunk);
      });
      res.on(
        "end",
        () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            bytes,
          }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    const parts = options.body?.[Symbol.iterator]();
    const pump = (): void => {
      if (!parts) return void req.end();
      for (;;) {
        const next = parts.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once("drain", pump);
      }
    };
    pump();
  });
}

function expect(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) {
    throw new Error(
      `${what}: HTTP ${reply.status} (expected ${status}): ${reply.body.toString().slice(0, 300)}`,
    );
  }
}

function location(reply: Reply, what: string): string {
  const loc = reply.headers.location;
  if (!loc) throw new Error(`${what}: no Location header`);
  return loc;
}

function withQuery(target: string, query: string): string {
  return target + (target.includes("?") ? "&" : "?") + query;
}

/** The bytes `[start, end)` of a payload, as views of its block. */
function* slices(
  payload: Payload,
  start: number,
  end: number,
  piece = BLOCK,
): Generator<Uint8Array> {
  let pos = start;
  while (pos < end) {
    const inBlock = pos % BLOCK;
    const n = Math.min(piece, BLOCK - inBlock, end - pos);
    yield payload.block.subarray(inBlock, inBlock + n);
    pos += n;
  }
}

function prepare(id: string, size: number): Payload {
  const block = randomFillSync(Buffer.allocUnsafe(BLOCK));
  const hash = createHash("sha256");
  for (const part of slices({ block, size, digest: "" }, 0, size)) hash.update(part);
  const payload = { block, size, digest: `sha256:${hash.digest("hex")}` };
  payloads.set(id, payload);
  return payload;
}

function payloadOf(id: string): Payload {
  const payload = payloads.get(id);
  if (!payload) throw new Error(`no payload ${id}`);
  return payload;
}

async function startSession(base: string, repo: string): Promise<string> {
  const reply = await request(base, `/v2/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: { "Content-Length": 0 },
  });
  expect(reply, 202, "POST upload");
  return location(reply, "POST upload");
}

/** Push a payload: monolithic (POST, PUT with the body), chunked PATCHes, or one streamed PATCH. */
async function push(
  base: string,
  repo: string,
  payload: Payload,
  mode: string,
  chunk: number,
): Promise<{ seconds: number; bytes: number; digest: string; requests: number }> {
  const t0 = performance.now();
  let loc = await startSession(base, repo);
  let requests = 1;
  const octet = "application/octet-stream";
  if (mode === "monolithic") {
    const reply = await request(base, withQuery(loc, `digest=${payload.digest}`), {
      method: "PUT",
      headers: { "Content-Type": octet, "Content-Length": payload.size },
      body: slices(payload, 0, payload.size),
    });
    expect(reply, 201, "PUT monolithic");
    requests++;
  } else {
    if (mode === "chunked") {
      for (let start = 0; start < payload.size; start += chunk) {
        const end = Math.min(start + chunk, payload.size);
        const reply = await request(base, loc, {
          method: "PATCH",
          headers: {
            "Content-Type": octet,
            "Content-Length": end - start,
            "Content-Range": `${start}-${end - 1}`,
          },
          body: slices(payload, start, end),
        });
        expect(reply, 202, `PATCH ${start}-${end - 1}`);
        loc = location(reply, "PATCH");
        requests++;
      }
    } else if (mode === "streamed") {
      // No Content-Length: node:http sends Transfer-Encoding: chunked.
      const reply = await request(base, loc, {
        method: "PATCH",
        headers: { "Content-Type": octet },
        body: slices(payload, 0, payload.size, STREAM_WRITE),
      });
      expect(reply, 202, "PATCH streamed");
      loc = location(reply, "PATCH");
      requests++;
    } else {
      throw new Error(`unknown push mode ${mode}`);
    }
    const reply = await request(base, withQuery(loc, `digest=${payload.digest}`), {
      method: "PUT",
      headers: { "Content-Length": 0 },
    });
    expect(reply, 201, "PUT complete");
    requests++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, bytes: payload.size, digest: payload.digest, requests };
}

async function pull(base: string, repo: string, digest: string, size: number) {
  const t0 = performance.now();
  const reply = await request(base, `/v2/${repo}/blobs/${digest}`, { discard: true });
  const seconds = (performance.now() - t0) / 1000;
  expect(reply, 200, "GET blob");
  if (reply.bytes !== size) throw new Error(`GET blob: ${reply.bytes} bytes, expected ${size}`);
  return { seconds, bytes: reply.bytes };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** `count` sequential ranged GETs of `length` bytes from the middle of the blob. */
async function ranged(
  base: string,
  repo: string,
  digest: string,
  size: number,
  length: number,
  count: number,
) {
  const start = Math.floor(size / 2);
  const headers = { Range: `bytes=${start}-${start + length - 1}` };
  const ms: number[] = [];
  for (let i = 0; i < count + 3; i++) {
    const t0 = performance.now();
    const reply = await request(base, `/v2/${repo}/blobs/${digest}`, { headers, discard: true });
    const elapsed = performance.now() - t0;
    expect(reply, 206, "ranged GET");
    if (reply.bytes !== length) {
      throw new Error(`ranged GET: ${reply.bytes} bytes, expected ${length}`);
    }
    if (i >= 3) ms.push(elapsed); // the first few warm the connection and caches
  }
  ms.sort((a, b) => a - b);
  return { medianMs: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99), count };
}

async function pushSmallBlob(base: string, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const loc = await startSession(base, repo);
  const reply = await request(base, withQuery(loc, `digest=${digest}`), {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream", "Content-Length": bytes.length },
    body: [bytes],
  });
  expect(reply, 201, "PUT small blob");
  return digest;
}

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** Push a config, a layer and an image manifest tagged `tag`; the manifest's bytes and digest. */
async function pushImage(base: string, repo: string, tag: string) {
  const config = Buffer.from(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [] },
    config: {},
  }));
  const layer = randomFillSync(Buffer.alloc(4096));
  const configDigest = await pushSmallBlob(base, repo, config);
  const layerDigest = await pushSmallBlob(base, repo, layer);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: layerDigest,
      size: layer.length,
    }],
  }));
  await putManifest(base, repo, tag, manifest, 1);
  return {
    manifest: manifest.toString("base64"),
    digest: `sha256:${createHash("sha256").update(manifest).digest("hex")}`,
  };
}

async function putManifest(
  base: string,
  repo: string,
  tag: string,
  manifest: Buffer,
  sockets: number,
) {
  const reply = await request(base, `/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": MANIFEST_TYPE, "Content-Length": manifest.length },
    body: [manifest],
    sockets,
  });
  expect(reply, 201, `PUT manifest ${tag}`);
}

/** Tag `manifest` as `t00000`… (`count` tags), `concurrency` requests in flight. */
async function pushTags(
  base: string,
  repo: string,
  manifest: Buffer,
  count: number,
  concurrency: number,
) {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await putManifest(base, repo, `t${String(i).padStart(5, "0")}`, manifest, concurrency);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { seconds: (performance.now() - t0) / 1000, count };
}

/**
 * List the tags of `repo` with `n` per page, following `Link: <…>; rel="next"` to the end; how many
 * distinct tags came back, and whether in lexical order.
 */
async function listTags(base: string, repo: string, n: number) {
  const t0 = performance.now();
  let target: string | undefined = `/v2/${repo}/tags/list?n=${n}`;
  let requests = 0;
  const seen = new Set<string>();
  let ordered = true;
  let last = "";
  while (target) {
    const reply = await request(base, target);
    expect(reply, 200, "GET tags/list");
    requests++;
    const page = JSON.parse(reply.body.toString()) as { tags?: string[] | null };
    for (const tag of page.tags ?? []) {
      if (seen.has(tag)) throw new Error(`tag ${tag} listed twice`);
      if (tag <= last) ordered = false;
      seen.add(tag);
      last = tag;
    }
    const link = reply.headers.link;
    const m = typeof link === "string" ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
    target = m ? m[1] : undefined;
  }
  return { seconds: (performance.now() - t0) / 1000, requests, tags: seen.size, ordered };
}

type Command = Record<string, unknown> & { op: string };

async function run(cmd: Command): Promise<Record<string, unknown>> {
  const base = String(cmd.base ?? "");
  const repo = String(cmd.repo ?? "");
  switch (cmd.op) {
    case "prepare": {
      const p = prepare(String(cmd.id), Number(cmd.size));
      return { digest: p.digest, size: p.size };
    }
    case "drop":
      payloads.delete(String(cmd.id));
      return {};
    case "push":
      return await push(
        base,
        repo,
        payloadOf(String(cmd.id)),
        String(cmd.mode),
        Number(cmd.chunk ?? 0),
      );
    case "pull":
      return await pull(base, repo, String(cmd.digest), Number(cmd.size));
    case "range":
      return await ranged(
        base,
        repo,
        String(cmd.digest),
        Number(cmd.size),
        Number(cmd.length),
        Number(cmd.count),
      );
    case "image":
      return await pushImage(base, repo, String(cmd.tag));
    case "tags":
      return await pushTags(
        base,
        repo,
        Buffer.from(String(cmd.manifest), "base64"),
        Number(cmd.count),
        Number(cmd.concurrency ?? 8),
      );
    case "list":
      return await listTags(base, repo, Number(cmd.n));
    case "exit":
      setImmediate(() => process.exit(0));
      return {};
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let out: Record<string, unknown>;
    try {
      out = { ok: true, ...(await run(JSON.parse(line) as Command)) };
    } catch (error) {
      out = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
lines.on("close", () => void queue.then(() => process.exit(0)));
