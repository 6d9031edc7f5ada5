/**
 * A registry as a default-exported `{ fetch }`, for `deno serve`:
 *
 * ```sh
 * deno serve -A --port 5000 lib/cli/deno_serve.ts
 * FETCH_REGISTRY_STORAGE=memory deno serve -A --port 5000 lib/cli/deno_serve.ts
 * ```
 *
 * Storage comes from the `FETCH_REGISTRY_STORAGE` environment variable (`memory`, `fs:DIR` or an
 * `s3://` URL), default `fs:./data`. Run it from the repository root (where deno.json is).
 *
 * Bun serves the same module (`bun lib/cli/deno_serve.ts`, port from `PORT`, default 3000): the extra
 * members are Bun.serve options a registry needs (Deno ignores them). The CLI (lib/cli/main.ts) is the
 * better way to serve on any runtime: on Deno 2.9, `deno serve` uses Deno.serve, which reads
 * streamed (chunked) uploads slowly; see lib/server/serve.ts.
 *
 * @module
 */
import process from "node:process";
import { createRegistry } from "../registry.ts";
import { DEFAULT_STORAGE_SPEC, storageFromSpec } from "./from_spec.ts";

const registry = createRegistry({
  storage: await storageFromSpec(
    process.env.FETCH_REGISTRY_STORAGE || DEFAULT_STORAGE_SPEC,
    process.env,
  ),
});

/** The server entry point: `deno serve` (and Bun) call `fetch` for every request. */
export default {
  fetch: registry.fetch,
  // Bun.serve options (see lib/server/bun.ts): no body size limit, slow clients, no HTML errors.
  development: false,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  idleTimeout: 120,
};
