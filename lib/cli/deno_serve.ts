/**
 * A registry as a default-exported `{ fetch }`, for `deno serve` (and Bun):
 *
 * ```sh
 * npx deno serve -A --port 5000 lib/cli/deno_serve.ts     # in the repository (or below it)
 * npx deno serve -A --config /path/to/fetch-registry/deno.json --port 5000 \
 *   /path/to/fetch-registry/lib/cli/deno_serve.ts          # from any other directory
 * FETCH_REGISTRY_STORAGE=memory npx deno serve -A --port 5000 lib/cli/deno_serve.ts
 * PORT=5000 npx bun lib/cli/deno_serve.ts                  # Bun, from any directory
 * ```
 *
 * Storage comes from the `FETCH_REGISTRY_STORAGE` environment variable (`memory`, `fs:DIR` or an
 * `s3://` URL), default `fs:./data`. Deno finds the packages this module imports (itty-router,
 * aws4fetch) through the deno.json it discovers from the working directory upwards, so outside the
 * repository it needs `--config` naming the repository's deno.json. `deno serve` listens on
 * 0.0.0.0 unless given `--host`, and says so.
 *
 * Bun serves the same module (port from `PORT`, default 3000): the extra members are Bun.serve
 * options a registry needs (Deno ignores them). Bun binds 127.0.0.1 unless `FETCH_REGISTRY_HOST`
 * names another address, and a line on stderr says where it listens. The CLI (lib/cli/main.ts) is
 * the better way to serve on any runtime: on Deno 2.9, `deno serve` uses Deno.serve, which reads
 * streamed (chunked) uploads slowly; see lib/server/serve.ts.
 *
 * @module
 */
import process from "node:process";
import { createRegistry } from "../registry.ts";
import { detectRuntime } from "../runtime.ts";
import { DEFAULT_STORAGE_SPEC, storageFromSpec } from "./from_spec.ts";

const registry = createRegistry({
  storage: await storageFromSpec(
    process.env.FETCH_REGISTRY_STORAGE || DEFAULT_STORAGE_SPEC,
    process.env,
  ),
});

/** Where Bun listens: 127.0.0.1 unless FETCH_REGISTRY_HOST says otherwise (Deno takes `--host`). */
const hostname = process.env.FETCH_REGISTRY_HOST || "127.0.0.1";
if (detectRuntime() === "bun") {
  const port = process.env.BUN_PORT || process.env.PORT || process.env.NODE_PORT || "3000";
  process.stderr.write(
    `fetch-registry: Bun serves on ${hostname}:${port === "0" ? "<a free port>" : port} ` +
      `(FETCH_REGISTRY_HOST and PORT change it)\n`,
  );
}

/** The server entry point: `deno serve` (and Bun) call `fetch` for every request. */
export default {
  fetch: registry.fetch,
  hostname,
  // Bun.serve options (see lib/server/bun.ts): no body size limit, slow clients, no HTML errors.
  development: false,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  idleTimeout: 120,
};
