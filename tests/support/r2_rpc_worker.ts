/**
 * A test Worker, run in workerd by Miniflare (tests/r2.test.ts): it runs `r2Storage` over its R2
 * binding `BUCKET` and answers two kinds of requests, both under the key prefix named by the
 * `x-test-prefix` header (one fresh prefix per storage):
 *
 * - `POST /__storage/<member>` (`blobs.stat`, `uploads.append`, ...): calls that member of the
 *   adapter with the JSON arguments of the body (for `uploads.append`: of the `x-rpc-args`
 *   header, the request body being the data) and answers its result (r2_rpc_codec.ts), or the
 *   stream of `blobs.read` / `uploads.read` as the body. UploadOffsetError is a 409 with its size.
 * - anything else: the registry, made by the Worker entry's `createWorker` with the JSON registry
 *   options of the `x-test-options` header.
 *
 * @module
 */
import { createWorker, type RegistryWorker } from "../../lib/workers/mod.ts";
import { r2Storage } from "../../lib/storage/r2/mod.ts";
import type { R2Bucket } from "../../lib/storage/r2/binding.ts";
import { type Storage, UploadOffsetError } from "../../lib/storage/types.ts";
import { decode, encode } from "./r2_rpc_codec.ts";

const storages = new Map<string, Storage>();
const workers = new Map<string, RegistryWorker>();

/** The request body as the async iterable an append takes. */
async function* bodyOf(request: Request): AsyncIterable<Uint8Array> {
  if (!request.body) return;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

async function call(request: Request, env: { BUCKET: R2Bucket }, prefix: string) {
  const member = new URL(request.url).pathname.slice("/__storage/".length);
  let storage = storages.get(prefix);
  if (!storage) storages.set(prefix, storage = r2Storage(env.BUCKET, { prefix }));
  const [store, name] = member.includes(".") ? member.split(".") : [undefined, member];
  const target = (store ? (storage as unknown as Record<string, object>)[store] : storage) as
    | Record<string, (...args: unknown[]) => Promise<unknown>>
    | undefined;
  const fn = target?.[name];
  if (typeof fn !== "function") return new Response(`no member ${member}`, { status: 404 });
  try {
    if (member === "uploads.append") {
      const args = decode(request.headers.get("x-rpc-args") ?? "[]") as unknown[];
      const result = await fn.call(target, ...args, bodyOf(request));
      return new Response(encode(result));
    }
    const args = decode(await request.text()) as unknown[];
    const result = await fn.apply(target, args);
    if (member === "blobs.read" || member === "uploads.read") {
      if (result === undefined) return new Response(null, { status: 204 });
      return new Response(result as ReadableStream);
    }
    return new Response(encode(result));
  } catch (error) {
    if (error instanceof UploadOffsetError) {
      return Response.json({ size: error.size }, { status: 409 });
    }
    return Response.json({ error: String(error) }, { status: 500 });
  }
}

/** The test Worker's handlers. */
export default {
  fetch(request: Request, env: { BUCKET: R2Bucket }): Promise<Response> | Response {
    const prefix = request.headers.get("x-test-prefix") ?? "";
    if (new URL(request.url).pathname.startsWith("/__storage/")) {
      return call(request, env, prefix);
    }
    const options = request.headers.get("x-test-options") ?? "{}";
    const key = `${prefix}\n${options}`;
    let worker = workers.get(key);
    if (!worker) {
      worker = createWorker({
        binding: "BUCKET",
        r2: { prefix },
        registry: () => JSON.parse(options),
      });
      workers.set(key, worker);
    }
    const headers = new Headers(request.headers);
    headers.delete("x-test-prefix");
    headers.delete("x-test-options");
    return worker.fetch(new Request(request, { headers }), env);
  },
};
