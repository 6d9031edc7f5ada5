/**
 * The test registry: a registry with seeding, inspection, request recording and fault injection,
 * in-process (`createTestRegistry`) or on a real socket (`startTestRegistry`).
 *
 * The registry's handler is used as is: recording and faults wrap its `fetch`; seeding and
 * inspection call the handler directly (they are neither recorded nor faulted).
 *
 * @module
 */
import type { RegistryAuth } from "../auth/guard.ts";
import type { TokenService } from "../auth/token_service.ts";
import { createRegistry, type Registry, type RegistryOptions } from "../registry.ts";
import { serve } from "../server/serve.ts";
import { ClientAbortError, type CloseOptions } from "../server/types.ts";
import { memoryStorage } from "../storage/memory.ts";
import type { Storage } from "../storage/types.ts";
import { InjectedFaultError } from "./fault_response.ts";
import type { Faults } from "./fault_types.ts";
import { createFaults } from "./faults.ts";
import { IN_PROCESS_ORIGIN } from "./http.ts";
import { createInspector, type Inspector } from "./inspect.ts";
import { createRecorder, type RecorderOptions, type RequestLog } from "./recorder.ts";
import { createSeeder } from "./seed.ts";
import type { Seeder } from "./seed_types.ts";
import { resolveTestAuth, type TestAuthOptions } from "./test_auth.ts";

/** Options of {@link createTestRegistry}: the registry's options, plus recording. */
export interface TestRegistryOptions extends Omit<RegistryOptions, "auth"> {
  /**
   * Access control: a mode (`{ mode: "basic" | "token" | "external", users, policy }`) or any
   * `RegistryAuth`. Seeding and inspection bypass it.
   */
  auth?: RegistryAuth | TestAuthOptions;
  /**
   * Record requests in `registry.requests`: `true` (default), `false`, or options (which headers,
   * how many requests to keep).
   */
  record?: boolean | RecorderOptions;
}

/** Options of {@link TestRegistry.reset}. */
export interface ResetOptions {
  /**
   * Also start over with a new, empty memory storage (the previous one is closed). Not possible
   * when a storage was passed in options.
   */
  storage?: boolean;
}

/** A registry for tests. */
export interface TestRegistry {
  /**
   * Send a request, as `globalThis.fetch` would: a `Request` (used as is; `init` is then ignored),
   * or a URL or path (`"/v2/"`) with `init`. Recorded, and subject to the fault rules. A bound
   * function: pass `registry.fetch` to any client that takes a custom fetch, or to `Deno.serve` /
   * `Bun.serve` (which call it with a second argument of their own).
   *
   * @example
   * ```ts
   * const res = await registry.fetch("/v2/app/tags/list");
   * ```
   */
  readonly fetch: (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
  /** The underlying registry, not recorded and not faulted. */
  readonly registry: Registry;
  /** Its storage adapter. */
  readonly storage: Storage;
  /** Push content through the registry's API (not recorded, not faulted). */
  readonly seed: Seeder;
  /** Read content through the registry's API (not recorded, not faulted). */
  readonly inspect: Inspector;
  /** The recorded requests (empty when recording is off). */
  readonly requests: RequestLog;
  /** The fault rules. */
  readonly faults: Faults;
  /**
   * With `auth: { mode: "external" }`: the token issuer made for the test, whose tokens the
   * registry accepts. Serve `issuer.fetch` at the realm, or mint tokens with `issuer.issue`.
   */
  readonly issuer?: TokenService;
  /**
   * Remove every fault rule and clear the recording; with `{ storage: true }`, also empty the
   * registry.
   *
   * @example
   * ```ts
   * beforeEach(() => registry.reset({ storage: true }));
   * ```
   */
  reset(options?: ResetOptions): Promise<void>;
}

/** Options of {@link startTestRegistry}: a test registry's options and where to listen. */
export interface StartTestRegistryOptions extends TestRegistryOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  hostname?: string;
}

/** A test registry listening on a real socket. */
export interface RunningTestRegistry extends TestRegistry {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** `host:port`, the form image references use (`${registry.host}/app:latest`). */
  readonly host: string;
  /** The port listened on. */
  readonly port: number;
  /**
   * Stop the server (in-flight requests may finish, bounded by `timeoutMs`).
   *
   * @example
   * ```ts
   * after(() => registry.close());
   * ```
   */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Create a test registry, in-process: no socket, `registry.fetch` answers directly.
 *
 * @example
 * ```ts
 * import { createTestRegistry } from "fetch-registry/testing";
 * const registry = createTestRegistry();
 * const image = await registry.seed.image("app", { tag: "latest", layers: ["hello"] });
 * registry.faults.add({ route: "manifest", method: "GET", nth: 1, status: 503 });
 * (await registry.fetch("/v2/app/manifests/latest")).status; // 503
 * (await registry.fetch("/v2/app/manifests/latest")).status; // 200
 * registry.requests.summary(); // ["GET /v2/app/manifests/latest 503", "GET /v2/app/manifests/latest 200"]
 * ```
 */
export function createTestRegistry(options: TestRegistryOptions = {}): TestRegistry {
  const { record = true, auth: authOption, ...registryOptions } = options;
  const resolved = authOption ? resolveTestAuth(authOption) : undefined;
  // With access control, seeding and inspection go through a second handler over the same
  // storage, without it.
  const makeCores = (): { core: Registry; open: Registry } => {
    const storage = registryOptions.storage ?? memoryStorage();
    const core = createRegistry({ ...registryOptions, storage, auth: resolved?.auth });
    return { core, open: resolved ? createRegistry({ ...registryOptions, storage }) : core };
  };
  let { core, open } = makeCores();
  const direct = { fetch: (request: Request) => core.fetch(request) };
  const backdoor = { fetch: (request: Request) => open.fetch(request) };
  const basePath = registryOptions.basePath;
  const faults = createFaults({ basePath });
  const recorder = createRecorder(typeof record === "object" ? record : {});
  const faulted = faults.wrap(direct.fetch);
  const handler = record === false ? faulted : recorder.wrap(faulted, faults.markOf);

  // A Request is used as is and the second argument ignored: Bun.serve and Deno.serve call
  // `fetch(request, server | info)`, so `registry.fetch` can be handed to them directly.
  const fetch = (input: Request | string | URL, init?: RequestInit): Promise<Response> =>
    handler(
      input instanceof Request ? input : new Request(new URL(input, IN_PROCESS_ORIGIN), init),
    );

  return {
    fetch,
    get registry() {
      return core;
    },
    get storage() {
      return core.storage;
    },
    seed: createSeeder(backdoor, { basePath }),
    inspect: createInspector(backdoor, { basePath }),
    issuer: resolved?.issuer,
    requests: recorder.log,
    faults: {
      add: (rule) => faults.add(rule),
      reset: () => faults.reset(),
      get rules() {
        return faults.rules;
      },
    },
    async reset(resetOptions = {}) {
      faults.reset();
      recorder.log.clear();
      if (resetOptions.storage) {
        if (registryOptions.storage) {
          throw new TypeError(
            "reset({ storage: true }) needs the default memory storage, not one passed in",
          );
        }
        const old = core;
        ({ core, open } = makeCores());
        await old.storage.close?.();
      }
    },
  };
}

/**
 * Start a test registry on a real socket (`Deno.serve`, `Bun.serve` or node:http, whichever
 * runtime runs the test), for clients that need a URL. `fetch`, `seed`, `inspect`, `requests`
 * and `faults` work as with {@link createTestRegistry}; requests over the socket are recorded
 * and faulted too.
 *
 * @example
 * ```ts
 * import { startTestRegistry } from "fetch-registry/testing";
 * const registry = await startTestRegistry();
 * await registry.seed.image("app", { tag: "latest", layers: ["hello"] });
 * const res = await fetch(`${registry.url}/v2/app/tags/list`);
 * console.log(await res.json()); // { name: "app", tags: ["latest"] }
 * await registry.close();
 * ```
 */
export async function startTestRegistry(
  options: StartTestRegistryOptions = {},
): Promise<RunningTestRegistry> {
  const { port, hostname, ...rest } = options;
  const userLogger = rest.logger;
  const test = createTestRegistry({
    ...rest,
    logger: {
      error(error, request) {
        // A client that hangs up mid-upload (or a test that cuts it) is not a registry fault.
        if (error instanceof ClientAbortError) return;
        if (userLogger) userLogger.error?.(error, request);
        else console.error("fetch-registry:", error);
      },
    },
  });
  const server = await serve(test.fetch, {
    port: port ?? 0,
    hostname,
    onError(error) {
      // A body cut on purpose is not worth a log line.
      if (error instanceof InjectedFaultError) return;
      if (userLogger) userLogger.error?.(error);
      else console.error("fetch-registry:", error);
    },
  });
  return Object.defineProperties(test, {
    url: { value: server.url, enumerable: true },
    host: { value: server.host, enumerable: true },
    port: { value: server.port, enumerable: true },
    close: { value: (closeOptions?: CloseOptions) => server.close(closeOptions), enumerable: true },
  }) as RunningTestRegistry;
}
