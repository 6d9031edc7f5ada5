/**
 * The operations wrappers are transparent: the whole HTTP protocol suite and the storage
 * contract, through `withMetrics`, `instrumentStorage`, `withRequestId` and the event observer,
 * answer exactly as a bare registry does; and the metrics and events they produced on the way are
 * consistent with the requests made.
 *
 * @module
 */
import assert from "node:assert/strict";
import { suite } from "uvu";
import { createRegistry } from "../lib/registry.ts";
import { memoryStorage } from "../lib/storage/memory.ts";
import { createEventObserver, type RegistryEvent } from "../lib/observe/events.ts";
import { createRegistryMetrics } from "../lib/observe/metrics.ts";
import { instrumentStorage } from "../lib/observe/storage_metrics.ts";
import { withMetrics } from "../lib/observe/with_metrics.ts";
import { withRequestId } from "../lib/observe/request_id.ts";
import { protocolSuite } from "./protocol/mod.ts";
import { storageContract } from "../lib/testing/storage_contract.ts";

const metrics = createRegistryMetrics();
const events: RegistryEvent[] = [];
let registries = 0;

const contract = suite("memory, instrumented storage contract");
storageContract("memory, instrumented", () => instrumentStorage(memoryStorage(), metrics), {
  test: contract,
});
contract.run();
protocolSuite("memory, observed", () => memoryStorage(), (options) => {
  registries++;
  const storage = instrumentStorage(options.storage!, metrics);
  const observer = createEventObserver((e) => events.push(e));
  const registry = createRegistry({ ...options, storage, observer });
  return withRequestId(withMetrics(registry, { metrics, basePath: options.basePath }));
});

const after = suite("observed protocol suite: what the wrappers counted");

after(
  "every request counted and timed, events for every action, route labels without paths",
  () => {
    assert.ok(registries > 50, `${registries} registries`);
    const text = metrics.render();
    let total = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("fetch_registry_http_requests_total{")) {
        total += Number(
          line.split(" ")[1],
        );
      }
    }
    let count = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("fetch_registry_http_request_duration_seconds_count{")) {
        count += Number(line.split(" ")[1]);
      }
    }
    assert.ok(total > 500, `${total} requests`);
    assert.equal(count, total, "one latency observation per request");
    assert.equal(metrics.inFlight.get(), 0);
    assert.equal(metrics.uploadsInProgress.get(), 0);
    const actions = new Set(events.map((e) => e.action));
    for (const a of ["push", "pull", "delete", "mount"]) assert.ok(actions.has(a as never), a);
    for (const e of events) {
      assert.ok(e.target.repository.length > 0);
      if (e.action !== "delete") assert.ok(e.target.digest?.startsWith("sha"), JSON.stringify(e));
    }
    assert.doesNotMatch(text, /route="[^"]*\//, "no paths in route labels");
  },
);

after.run();
