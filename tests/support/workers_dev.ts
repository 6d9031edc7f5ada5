/**
 * `npm run dev:workers -- [--port PORT] [--persist DIR | --memory]`: the Worker entry
 * (lib/workers/worker.ts), bundled as wrangler would, served by Miniflare's workerd on
 * 127.0.0.1:PORT (default 8787) over a local R2 bucket bound as `REGISTRY_BUCKET`, kept under
 * ./data-workers (or DIR) unless `--memory`. Prints `listening on http://127.0.0.1:PORT` once it
 * serves; stops on SIGINT or SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundleWorker, startWorkerd } from "./workerd.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    persist: { type: "string", default: "data-workers" },
    memory: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: npm run dev:workers -- [--port PORT] [--persist DIR | --memory]\n" +
      "Serves the Cloudflare Worker entry in a local workerd (Miniflare) over a local R2 bucket.",
  );
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port: not a port number: ${values.port}`);
  process.exit(2);
}
const { code } = await bundleWorker("lib/workers/worker.ts");
const persistTo = values.memory ? undefined : resolve(values.persist!);
const mf = await startWorkerd({ code, binding: "REGISTRY_BUCKET", port, persistTo });
const url = await mf.ready;
console.log(
  `listening on ${url.origin} (workerd, R2 bucket ${persistTo ? `in ${persistTo}` : "in memory"})`,
);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
