/**
 * `storageFromSpec`: a storage adapter from a one-word description, as the CLI's `--storage` flag
 * and the `FETCH_REGISTRY_STORAGE` variable take it: `memory`, `fs:DIR` or an `s3://` URL. Part of
 * the CLI: the adapters themselves neither read the environment nor parse URLs.
 *
 * @module
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fsStorage } from "../storage/fs/mod.ts";
import { memoryStorage } from "../storage/memory.ts";
import { s3Storage, type S3StorageOptions } from "../storage/s3/mod.ts";
import { parseS3Spec, probeS3 } from "./s3_spec.ts";
import type { FullStorage } from "../storage/types.ts";

/** The storage description used when none is given. */
export const DEFAULT_STORAGE_SPEC = "fs:./data";

/** Thrown for a storage description that cannot be used; its message is one plain line. */
export class StorageSpecError extends Error {
  /** @param message What is wrong, in one line. */
  constructor(message: string) {
    super(message);
    this.name = "StorageSpecError";
  }
}

/**
 * Create `dir` and its missing parents one level at a time. Not `mkdirSync(dir, { recursive })`:
 * on Node 20 that loops forever when a parent refuses new entries with ENOENT (`/proc/x`).
 */
function makeDirs(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = (error as { code?: string })?.code;
    if (code === "EEXIST") return;
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir) throw error;
    makeDirs(parent);
    mkdirSync(dir);
  }
}

/** Create `dir` if needed and prove that files can be written in it. */
function ensureWritableDir(dir: string): void {
  try {
    makeDirs(dir);
    const probe = join(dir, `.write-probe-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
  } catch (error) {
    const code = (error as { code?: string })?.code;
    throw new StorageSpecError(
      `storage directory ${dir} is not writable${code ? ` (${code})` : ""}`,
    );
  }
}

/**
 * A storage adapter from its description:
 * - `memory`: {@link memoryStorage} (lost when the process ends);
 * - `fs:DIR`: {@link fsStorage} rooted at DIR (created if missing; must be writable);
 * - `s3://...`: the S3 adapter.
 *
 * `env` gives the S3 credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_REGION): the caller passes `process.env`. Throws {@link StorageSpecError} (a one-line
 * message) when the description is malformed or the storage cannot be used.
 *
 * @example
 * ```ts
 * const storage = await storageFromSpec("fs:./data", process.env);
 * const registry = createRegistry({ storage });
 * ```
 */
export async function storageFromSpec(
  spec: string,
  env: Record<string, string | undefined>,
): Promise<FullStorage> {
  if (spec === "memory") return memoryStorage();
  if (spec.startsWith("fs:")) {
    const dir = spec.slice(3);
    if (dir === "") throw new StorageSpecError(`storage "fs:" needs a directory, e.g. fs:./data`);
    const root = resolve(dir);
    ensureWritableDir(root);
    return fsStorage({ root });
  }
  if (spec.startsWith("s3://")) {
    let options: S3StorageOptions;
    try {
      options = parseS3Spec(spec, env);
    } catch (error) {
      throw new StorageSpecError((error as Error).message);
    }
    try {
      await probeS3(options);
    } catch (error) {
      throw new StorageSpecError(
        `s3 bucket ${options.bucket} at ${options.endpoint} is not usable: ${
          (error as Error).message
        }`,
      );
    }
    return s3Storage(options);
  }
  throw new StorageSpecError(
    `unknown storage "${spec}": expected memory, fs:DIR or s3://BUCKET`,
  );
}
