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

/**
 * `fn` timed as `operation`: a promise until it settles, an async iterable (the gc capability's
 * enumerations) until its iteration ends, anything else at once. Failures are counted, except
 * an offset conflict, which is the contract's answer to a race, not a storage failure.
 */
function timed(
  metrics: RegistryMetrics,
  operation: string,
  fn: AnyFunction,
  self: unknown,
): AnyFunction {
  const { storageDuration, storageErrors } = metrics;
  const failed = (error: unknown) => {
    if (!(error instanceof UploadOffsetError)) storageErrors.inc(operation);
  };
  return function (...args: unknown[]) {
    const start = performance.now();
    const observe = () => storageDuration.observe(operation, (performance.now() - start) / 1e3);
    let result: unknown;
    try {
      result = fn.apply(self, args);
    } catch (error) {
      failed(error);
      observe();
      throw error;
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
      return (result as Promise<unknown>).then(
        (value) => {
          observe();
          return value;
        },
        (error: unknown) => {
          failed(error);
          observe();
          throw error;
        },
      );
    }
    if (result !== null && typeof result === "object" && Symbol.asyncIterator in result) {
      return timedIteration(result as AsyncIterable<unknown>, failed, observe);
    }
    observe();
    return result;
  };
}

/** `items`, with `observe` called when the iteration ends and failures passed to `failed`. */
async function* timedIteration<T>(
  items: AsyncIterable<T>,
  failed: (error: unknown) => void,
  observe: () => void,
): AsyncGenerator<T> {
  try {
    yield* items;
  } catch (error) {
    failed(error);
    throw error;
  } finally {
    observe();
  }
}

/** Every property name of `target` and its prototypes (not Object.prototype's). */
function propertyNames(target: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = target; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) if (name !== "constructor") names.add(name);
  }
  return [...names];
}

/** A plain object with `target`'s members, its methods timed as `<prefix><name>`. */
function instrumentObject<T extends object>(
  target: T,
  prefix: string,
  metrics: RegistryMetrics,
  nested: ReadonlySet<string>,
): T {
  const out: Record<string, unknown> = {};
  for (const name of propertyNames(target)) {
    const value = (target as Record<string, unknown>)[name];
    if (typeof value === "function") {
      out[name] = timed(metrics, `${prefix}${name}`, value as AnyFunction, target);
    } else if (nested.has(name) && typeof value === "object" && value !== null) {
      out[name] = instrumentObject(value, `${name}.`, metrics, new Set());
    } else if (value !== undefined) {
      out[name] = value;
    }
  }
  return out as T;
}

/**
 * A Storage that records the latency and failures of every call to `storage` in `metrics`
 * (`fetch_registry_storage_operation_duration_seconds` and `..._errors_total`, label
 * `operation`). Built once, as plain objects (no Proxy on the request path): every method the
 * adapter and its stores have when wrapped is timed, other members are copied, and an absent
 * optional method stays absent.
 *
 * @example
 * ```ts
 * const metrics = createRegistryMetrics();
 * const registry = createRegistry({ storage: instrumentStorage(fsStorage("./data"), metrics) });
 * ```
 */
export function instrumentStorage<S extends Storage>(storage: S, metrics: RegistryMetrics): S {
  const stores = new Set(["blobs", "uploads", "manifests", "tags"]);
  return instrumentObject(storage, "", metrics, stores);
}
