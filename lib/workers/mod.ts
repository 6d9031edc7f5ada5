/**
 * The registry as a Cloudflare Worker over an R2 bucket: {@link createWorker} makes the
 * `export default { fetch }` object, which finds the bucket binding in `env` on the first request
 * and creates the registry once per isolate. worker.ts is the ready-made entry (`main` in
 * wrangler.toml); import this module to pass registry options (auth, read-only, ...).
 *
 * @module
 */
import { createRegistry, type Registry, type RegistryOptions } from "../registry.ts";
import type { R2Bucket } from "../storage/r2/binding.ts";
import { r2Storage, type R2StorageOptions } from "../storage/r2/mod.ts";

/** The binding name used when none is configured. */
export const DEFAULT_BINDING = "REGISTRY_BUCKET";

/** Options of {@link createWorker}. */
export interface WorkerOptions {
  /**
   * Name of the R2 bucket binding in `env`. Default: `env.REGISTRY_BINDING` when that variable
   * is set (a `[vars]` entry in wrangler.toml), else `REGISTRY_BUCKET`.
   */
  binding?: string;
  /** Options of the R2 adapter (key prefix: default `env.REGISTRY_PREFIX`, else none). */
  r2?: R2StorageOptions;
  /** Registry options (everything but the storage), made once from `env`. */
  registry?: (env: Record<string, unknown>) => Omit<RegistryOptions, "storage">;
}

/** A Worker's module export: `fetch(request, env)`. */
export interface RegistryWorker {
  /** Answer one request. */
  fetch(request: Request, env: Record<string, unknown>): Promise<Response>;
}

/** Whether `value` looks like an R2 bucket binding. */
function isBucket(value: unknown): value is R2Bucket {
  const bucket = value as R2Bucket | undefined;
  return typeof bucket?.get === "function" && typeof bucket.createMultipartUpload === "function";
}

/**
 * The Worker's `export default` object.
 *
 * @example
 * ```ts
 * import { createWorker } from "fetch-registry/workers";
 * export default createWorker({ registry: (env) => ({ readOnly: env.READ_ONLY === "1" }) });
 * ```
 */
export function createWorker(options: WorkerOptions = {}): RegistryWorker {
  let registry: Registry | undefined;
  return {
    fetch(request, env) {
      if (!registry) {
        const name = options.binding ??
          (typeof env.REGISTRY_BINDING === "string" ? env.REGISTRY_BINDING : DEFAULT_BINDING);
        const bucket = env[name];
        if (!isBucket(bucket)) {
          // A deployment error, not a client's: say which binding is missing, nothing else.
          console.error(`fetch-registry: no R2 bucket binding named ${name} in env`);
          return Promise.resolve(
            Response.json(
              { errors: [{ code: "UNAVAILABLE", message: "storage is not configured" }] },
              { status: 503, headers: { "Docker-Distribution-API-Version": "registry/2.0" } },
            ),
          );
        }
        const prefix = options.r2?.prefix ??
          (typeof env.REGISTRY_PREFIX === "string" ? env.REGISTRY_PREFIX : undefined);
        registry = createRegistry({
          ...options.registry?.(env),
          storage: r2Storage(bucket, { ...options.r2, prefix }),
        });
      }
      return registry.fetch(request);
    },
  };
}
