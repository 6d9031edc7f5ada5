/**
 * The package's version, for `fetch-registry --version`: read from the package.json above this
 * module (lib/cli/ in a clone, dist/lib/cli/ in the installed package), so it is always the
 * version of the code that runs.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The `version` of the nearest package.json named `fetch-registry` above this module, or
 * `unknown` when there is none (a copy of the sources outside the package).
 *
 * @example
 * ```ts
 * packageVersion(); // "0.1.0"
 * ```
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (pkg?.name === "fetch-registry" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // no package.json here (or not ours): look further up
    }
    const parent = dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}
