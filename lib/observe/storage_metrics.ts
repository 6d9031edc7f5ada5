/**
 * Storage instrumentation: a Storage whose every adapter call is timed and whose failures are
 * counted, by operation (`blobs.stat`, `uploads.append`, `repositories`, ...). It wraps the
 * adapter from outside; adapters know nothing of it.
 *
 * @module
 */
import { type Storage, UploadOffsetError } from "../storage/types.ts";
import type { RegistryMetrics } from "./metrics.ts";

type AnyFunction = (...args: unknown[]) => unknown;

function timed(
  metrics: RegistryMetrics,
  operation: string,
  fn: AnyFunction,
  self: unknown,
): AnyFunction {
  return function (...args: unknown[]) {
    const start = performance.now();
    const done = () =>
      metrics.storageDuration.observe(operation, (performance.now() - start) / 1e3);
    let result: unknown;
    try {
      result = fn.apply(self, args);
    } catch (error) {
      done();
      metrics.storageErrors.inc(operation);
      throw error;
    }
    if (!(result instanceof Promise)) {
      done();
      return result;
    }
    return result.then((value) => {
      done();
      return value;
    }, (error: unknown) => {
      done();
      // An offset conflict is the contract's answer to a race, not a storage failure.
      if (!(error instanceof UploadOffsetError)) metrics.storageErrors.inc(operation);
      throw error;
    });
  };
}

function instrumentObject<T extends object>(
  target: T,
  prefix: string,
  metrics: RegistryMetrics,
  nested: ReadonlySet<string>,
): T {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(obj, prop) {
      const hit = cache.get(prop);
      if (hit !== undefined) return hit;
      const value = Reflect.get(obj, prop, obj);
      if (typeof prop !== "string") return value;
      let wrapped: unknown = value;
      if (typeof value === "function") {
        wrapped = timed(metrics, `${prefix}${prop}`, value as AnyFunction, obj);
      } else if (nested.has(prop) && typeof value === "object" && value !== null) {
        wrapped = instrumentObject(value, `${prop}.`, metrics, new Set());
      } else return value;
      cache.set(prop, wrapped);
      return wrapped;
    },
  });
}

/**
 * A Storage that records the latency and failures of every call to `storage` in `metrics`
 * (`fetch_registry_storage_operation_duration_seconds` and `..._errors_total`, label
 * `operation`). Optional methods stay optional: an absent method is still absent.
 *
 * @example
 * ```ts
 * const metrics = createRegistryMetrics();
 * const registry = createRegistry({ storage: instrumentStorage(fsStorage("./data"), metrics) });
 * ```
 */
export function instrumentStorage(storage: Storage, metrics: RegistryMetrics): Storage {
  const stores = new Set(["blobs", "uploads", "manifests", "tags"]);
  return instrumentObject(storage, "", metrics, stores);
}
