/**
 * The README's "Writing a storage adapter" example, checked: the README shows exactly the code of
 * tests/support/append_only_storage.ts (imports aside: `fetch-registry` there, a relative path
 * here), and that adapter passes the storage contract suite with the skip list the README's test
 * snippet gives. The skip list is then shown to be no blanket: a wrong one fails the suite.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { suite } from "uvu";
import { memoryStorage } from "../lib/storage/memory.ts";
import type { CapabilityName } from "../lib/storage/capabilities.ts";
import { storageContract, type StorageFactory } from "../lib/testing/storage_contract.ts";
import { appendOnlyStorage } from "./support/append_only_storage.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const adapterFile = readFileSync(
  new URL("./support/append_only_storage.ts", import.meta.url),
  "utf8",
);

/** The fenced code block that follows `<!-- example: name -->` in the README. */
function exampleBlock(name: string): string {
  const marker = `<!-- example: ${name} -->`;
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README has the marker ${marker}`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at + marker.length));
  assert.ok(match, `a ts code block follows ${marker}`);
  return match[1];
}

const readmeTest = exampleBlock("append_only_storage.test.ts");
const skipMatch = /skip: (\[[^\]]*\])/.exec(readmeTest);
assert.ok(skipMatch, "the README's test snippet passes a skip list");
/** The skip list exactly as the README's test snippet writes it. */
const SKIP = JSON.parse(skipMatch[1]) as CapabilityName[];

const readmeCheck = suite("README example adapter");

readmeCheck("the README shows the adapter file's code, imports from fetch-registry", () => {
  const code = adapterFile.replace(/^\/\*\*[\s\S]*?\*\/\n/, "");
  assert.equal(
    exampleBlock("append_only_storage.ts"),
    code.replaceAll('"../../mod.ts"', '"fetch-registry"'),
  );
});

readmeCheck("the README's test snippet runs the suite on that adapter with that skip list", () => {
  assert.match(readmeTest, /import \{ storageContract \} from "fetch-registry\/testing";/);
  assert.match(readmeTest, /import \{ appendOnlyStorage \} from "\.\/append_only_storage\.ts";/);
  assert.match(readmeTest, /storageContract\("append-only", \(\) => appendOnlyStorage\(\), \{/);
  assert.deepEqual([...SKIP].sort(), ["catalog", "delete", "gc", "mount", "purge", "referrers"]);
});

/**
 * Run only the capability check of the suite for `factory` with `skip`, and answer how it ended.
 */
async function capabilityCheck(factory: StorageFactory, skip: CapabilityName[]): Promise<unknown> {
  const bodies = new Map<string, () => Promise<void>>();
  storageContract("probe", factory, { test: (name, body) => bodies.set(name, body), skip });
  const check = [...bodies].find(([name]) => name.startsWith("probe: capabilities:"));
  assert.ok(check, "the suite registers its capability check");
  return await check[1]().then(() => "passed", (error: unknown) => error);
}

readmeCheck("a skip list naming a capability the adapter has fails the suite", async () => {
  const error = await capabilityCheck(() => memoryStorage(), ["delete"]);
  assert.ok(error instanceof assert.AssertionError, `failed: ${error}`);
  assert.match(error.message, /delete is skipped but provided/);
});

readmeCheck("a skip list leaving out a capability the adapter lacks fails the suite", async () => {
  const error = await capabilityCheck(
    () => appendOnlyStorage(),
    SKIP.filter((c) => c !== "delete"),
  );
  assert.ok(error instanceof assert.AssertionError, `failed: ${error}`);
  assert.match(error.message, /delete is not skipped but missing/);
  assert.equal(await capabilityCheck(() => appendOnlyStorage(), SKIP), "passed");
});

readmeCheck(
  "an adapter with part of a capability is refused, naming the missing member",
  async () => {
    const partial = () => {
      const storage = appendOnlyStorage();
      return { ...storage, manifests: { ...storage.manifests, delete: async () => false } };
    };
    const error = await capabilityCheck(partial, SKIP);
    assert.ok(error instanceof TypeError, `failed: ${error}`);
    assert.match(error.message, /tags\.delete/, "names the missing member");
  },
);

readmeCheck.run();

const contract = suite("append-only storage contract");
storageContract("append-only", () => appendOnlyStorage(), { test: contract, skip: SKIP });
contract.run();
