/**
 * A registry as a default-exported `{ fetch }`, for `deno serve`:
 *
 * ```sh
 * deno serve -A --port 5000 lib/deno_serve.ts
 * FETCH_REGISTRY_STORAGE=memory deno serve -A --port 5000 lib/deno_serve.ts
 * ```
 *
 * Storage comes from the `FETCH_REGISTRY_STORAGE` environment variable (`memory`, `fs:DIR` or an
 * `s3://` URL), default `fs:./data`. Bun takes the same module: `bun lib/deno_serve.ts` serves it
 * with Bun's defaults (mind its 128 MiB body limit; the CLI sets the right options).
 *
 * @module
 */
import process from "node:process";
import { createRegistry } from "./registry.ts";
import { DEFAULT_STORAGE_SPEC, storageFromSpec } from "./storage/from_spec.ts";

const registry = createRegistry({
  storage: await storageFromSpec(process.env.FETCH_REGISTRY_STORAGE || DEFAULT_STORAGE_SPEC),
});

/** The server entry point: `deno serve` calls `fetch` for every request. */
export default {
  fetch: registry.fetch,
};
