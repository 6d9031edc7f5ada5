/**
 * The ready-made Worker entry (`main = "lib/workers/worker.ts"` in wrangler.toml): the registry
 * over the R2 bucket bound as `REGISTRY_BUCKET` (or the binding named by the `REGISTRY_BINDING`
 * variable), keys under `REGISTRY_PREFIX` when set.
 *
 * @module
 */
import { createWorker } from "./mod.ts";

/** The Worker's handlers. */
export default createWorker();
