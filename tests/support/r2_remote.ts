/**
 * A host-side `Storage` whose every call runs `r2Storage` inside workerd: each member is a
 * request to the test Worker (r2_rpc_worker.ts), under the storage's own key prefix. Append data
 * streams as the request body; blob and session reads stream back as the response body.
 *
 * @module
 */
import type { Miniflare } from "miniflare";
import { type FullStorage, UploadOffsetError } from "../../lib/storage/types.ts";
import { decode, encode } from "./r2_rpc_codec.ts";

/** A fetch into the Worker (Miniflare's `dispatchFetch`, typed loosely across runtimes). */
type Dispatch = (url: string, init: RequestInit & { duplex?: "half" }) => Promise<Response>;

/** The dispatcher of `mf`. */
export function dispatcher(mf: Miniflare): Dispatch {
  return mf.dispatchFetch.bind(mf) as unknown as Dispatch;
}

/** Turn an error answer into the error the adapter threw. */
async function failure(res: Response, member: string): Promise<never> {
  if (res.status === 409) {
    throw new UploadOffsetError(((await res.json()) as { size: number }).size);
  }
  throw new Error(`${member} failed in workerd (${res.status}): ${await res.text()}`);
}

/**
 * The storage under `prefix` in the Worker served by `dispatch`.
 *
 * @example
 * ```ts
 * const storage = remoteR2Storage(dispatcher(mf), "t1");
 * ```
 */
export function remoteR2Storage(dispatch: Dispatch, prefix: string): FullStorage {
  const headers = { "x-test-prefix": prefix };
  const url = (member: string) => `http://storage.test/__storage/${member}`;

  async function call(member: string, args: unknown[]): Promise<unknown> {
    const res = await dispatch(url(member), { method: "POST", headers, body: encode(args) });
    if (res.status !== 200) return failure(res, member);
    return decode(await res.text());
  }

  async function stream(member: string, args: unknown[]) {
    const res = await dispatch(url(member), { method: "POST", headers, body: encode(args) });
    if (res.status === 204) return undefined;
    if (res.status !== 200) return failure(res, member);
    return res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  }

  const fn = (member: string) => (...args: unknown[]) => call(member, args) as Promise<never>;

  return {
    blobs: {
      stat: fn("blobs.stat"),
      read: (...args) => stream("blobs.read", args),
      link: fn("blobs.link"),
      unlink: fn("blobs.unlink"),
    },
    uploads: {
      create: fn("uploads.create"),
      get: fn("uploads.get"),
      async append(repository, id, offset, data) {
        let sourceError: { error: unknown } | undefined;
        const iterator = data[Symbol.asyncIterator]();
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              const { done, value } = await iterator.next();
              if (done) controller.close();
              else controller.enqueue(value);
            } catch (error) {
              sourceError = { error };
              controller.error(error);
            }
          },
        });
        let res: Response;
        try {
          res = await dispatch(url("uploads.append"), {
            method: "POST",
            headers: { ...headers, "x-rpc-args": encode([repository, id, offset]) },
            body,
            duplex: "half",
          });
        } catch (error) {
          throw sourceError ? sourceError.error : error;
        }
        if (sourceError) {
          await res.body?.cancel();
          throw sourceError.error;
        }
        if (res.status !== 200) return failure(res, "uploads.append");
        return decode(await res.text()) as never;
      },
      read: (...args) => stream("uploads.read", args) as Promise<never>,
      commit: fn("uploads.commit"),
      cancel: fn("uploads.cancel"),
      purge: fn("uploads.purge"),
    },
    manifests: {
      put: fn("manifests.put"),
      get: fn("manifests.get"),
      delete: fn("manifests.delete"),
      referrers: fn("manifests.referrers"),
    },
    tags: {
      get: fn("tags.get"),
      set: fn("tags.set"),
      delete: fn("tags.delete"),
      list: fn("tags.list"),
    },
    repositories: fn("repositories"),
  };
}

/**
 * A fetch handler that sends each request to the Worker with `extra` headers, answering with a
 * Response of this runtime (Miniflare answers with undici's own class).
 *
 * @example
 * ```ts
 * const registry = { fetch: forward(dispatcher(mf)) };
 * ```
 */
export function forward(
  dispatch: Dispatch,
  extra: Record<string, string> = {},
): (request: Request) => Promise<Response> {
  return async (request) => {
    const headers = new Headers(request.headers);
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
    const res = await dispatch(request.url, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
    });
    const bytes = request.method === "HEAD" ? null : new Uint8Array(await res.arrayBuffer());
    return new Response(bytes && bytes.byteLength > 0 ? bytes : null, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}
