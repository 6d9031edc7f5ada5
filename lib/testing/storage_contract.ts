/**
 * The storage contract suite: every member of the storage contract (lib/storage/types.ts) and
 * its edge cases, run against a storage factory with the test runner's own `test` function, so
 * that node:test, Deno.test, bun:test, vitest and uvu can all drive it.
 *
 * Assertions use `node:assert/strict`: Node, Deno and Bun all provide it, its `AssertionError`
 * is what every one of those runners reports with a diff, and its deep equality is the one the
 * stores' answers (pages, descriptors, records) need; a private copy would only be weaker.
 *
 * @module
 */
import assert from "node:assert/strict";
import { blobContract } from "./contract_blobs.ts";
import { gcContract } from "./contract_gc.ts";
import { manifestContract } from "./contract_manifests.ts";
import type { ContractDefiner } from "./contract_support.ts";
import { tagContract } from "./contract_tags.ts";
import { uploadContract } from "./contract_uploads.ts";
import {
  capabilitiesOf,
  CAPABILITY_MEMBERS,
  CAPABILITY_NAMES,
  type CapabilityName,
  hasMember,
} from "../storage/capabilities.ts";
import type { FullStorage, Storage } from "../storage/types.ts";

/** Makes a fresh, empty storage (one per test). */
export type StorageFactory = () => Storage | Promise<Storage>;

/**
 * A runner's test-registering function: `test` of node:test, bun:test and vitest, `Deno.test`,
 * or an uvu suite. The body returns a promise the runner awaits.
 */
export type ContractTestFunction = (name: string, body: () => Promise<void>) => unknown;

/** How {@link storageContract} registers its tests and what it leaves out. */
export interface StorageContractOptions {
  /** Registers one test (`test` from node:test, bun:test, vitest; `Deno.test`; an uvu suite). */
  test: ContractTestFunction;
  /**
   * Groups the tests (`describe` from node:test, bun:test, vitest): called once as
   * `suite("<name> storage contract", register)`. Without it, every test name starts with
   * `<name>: `.
   */
  suite?: (name: string, register: () => void) => unknown;
  /**
   * Optional capabilities the adapter does not provide. Their tests are left out, and one test
   * asserts that the adapter really lacks their members (and really has every other
   * capability), so a skip cannot hide a broken implementation.
   */
  skip?: readonly CapabilityName[];
  /** Called on every storage made, after its test and after its `close()` (remove temp dirs). */
  cleanup?: (storage: Storage) => void | Promise<void>;
}

/**
 * Register the storage contract suite for one adapter.
 *
 * @param name Names the adapter in the test names.
 * @param factory Makes a fresh, empty storage for each test.
 * @param options The runner's `test` (and optionally `suite`), the skip list, a cleanup.
 *
 * @example node:test (bun:test and vitest: the same with their `test`/`describe`)
 * ```ts
 * import { describe, test } from "node:test";
 * import { storageContract } from "fetch-registry/testing";
 * storageContract("mine", () => myStorage(), { test, suite: describe, skip: ["referrers"] });
 * ```
 *
 * @example Deno.test
 * ```ts
 * storageContract("mine", () => myStorage(), { test: (name, body) => Deno.test(name, body) });
 * ```
 *
 * @example uvu
 * ```ts
 * const test = suite("mine storage contract");
 * storageContract("mine", () => myStorage(), { test });
 * test.run();
 * ```
 */
export function storageContract(
  name: string,
  factory: StorageFactory,
  options: StorageContractOptions,
): void {
  const skipped = new Set<CapabilityName>(options.skip ?? []);
  for (const capability of skipped) {
    if (!CAPABILITY_NAMES.includes(capability)) {
      throw new TypeError(
        `storageContract: unknown capability "${capability}" in skip (known: ${
          CAPABILITY_NAMES.join(", ")
        })`,
      );
    }
  }
  const prefix = options.suite ? "" : `${name}: `;

  /** Run `body` with its own list of storages, closed and cleaned up however it ends. */
  function register(title: string, body: (fresh: () => Promise<Storage>) => Promise<void>) {
    options.test(prefix + title, async () => {
      const made: Storage[] = [];
      try {
        await body(async () => {
          const storage = await factory();
          made.push(storage);
          return storage;
        });
      } finally {
        for (const storage of made) {
          await storage.close?.();
          await options.cleanup?.(storage);
        }
      }
    });
  }

  function registerAll(): void {
    register(
      "capabilities: the adapter provides exactly what the skip list leaves",
      async (fresh) => {
        const storage = await fresh();
        const found = capabilitiesOf(storage);
        for (const capability of CAPABILITY_NAMES) {
          const members = CAPABILITY_MEMBERS[capability];
          if (skipped.has(capability)) {
            assert.equal(found[capability], false, `${capability} is skipped but provided`);
            for (const member of members) {
              assert.equal(hasMember(storage, member), false, `${capability} skipped: ${member}`);
            }
          } else {
            assert.equal(found[capability], true, `${capability} is not skipped but missing`);
          }
        }
      },
    );

    const definer: ContractDefiner = {
      test(title, needs, body) {
        if (needs.some((capability) => skipped.has(capability))) return;
        // Members of the capabilities a test uses are present when it runs.
        register(title, (fresh) => body(async () => await fresh() as FullStorage));
      },
      has: (capability) => !skipped.has(capability),
    };
    blobContract(definer);
    uploadContract(definer);
    manifestContract(definer);
    tagContract(definer);
    gcContract(definer);
  }

  if (options.suite) options.suite(`${name} storage contract`, registerAll);
  else registerAll();
}
