/**
 * The `--storage` description of the S3 adapter:
 * `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION[&partSize=BYTES][&redirect=true]`, with the
 * credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
 *
 * @module
 */
import type { S3StorageOptions } from "../storage/s3/mod.ts";
import { S3Client } from "../s3/client.ts";

/**
 * The s3Storage options an `s3://` description names. Throws an Error with a one-line message
 * when it is malformed or the credentials are missing. Without `endpoint`, AWS S3 in `region`
 * (default AWS_REGION, else us-east-1).
 *
 * @example
 * ```ts
 * parseS3Spec("s3://images/prod?endpoint=http://127.0.0.1:9000&region=us-east-1", {
 *   AWS_ACCESS_KEY_ID: "key", AWS_SECRET_ACCESS_KEY: "secret",
 * });
 * // { bucket: "images", prefix: "prod", endpoint: "http://127.0.0.1:9000", region: "us-east-1", ... }
 * ```
 */
export function parseS3Spec(
  spec: string,
  env: Record<string, string | undefined>,
): S3StorageOptions {
  const match = /^s3:\/\/([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(spec);
  if (!match) {
    throw new Error(
      `malformed storage "${spec}": expected s3://BUCKET/PREFIX?endpoint=URL&region=REGION`,
    );
  }
  const [, bucket, path = "", query = ""] = match;
  const params = new URLSearchParams(query);
  const known = new Set(["endpoint", "region", "partSize", "redirect"]);
  for (const name of params.keys()) {
    if (!known.has(name)) {
      throw new Error(`unknown s3 storage parameter "${name}" (known: ${[...known].join(", ")})`);
    }
  }
  const region = params.get("region") || env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const endpoint = params.get("endpoint") || `https://s3.${region}.amazonaws.com`;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    throw new Error(`s3 storage endpoint "${endpoint}" is not an http(s) URL`);
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      "s3 storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
    );
  }
  const options: S3StorageOptions = {
    endpoint,
    bucket: decodeURIComponent(bucket),
    region,
    accessKeyId,
    secretAccessKey,
    prefix: decodeURIComponent(path.replace(/^\/+|\/+$/g, "")),
  };
  if (env.AWS_SESSION_TOKEN) options.sessionToken = env.AWS_SESSION_TOKEN;
  const partSize = params.get("partSize");
  if (partSize !== null) {
    if (!/^\d+$/.test(partSize) || Number(partSize) < 5 * 1024 * 1024) {
      throw new Error(
        `s3 storage partSize "${partSize}" must be a byte count of at least 5242880 (5 MiB)`,
      );
    }
    options.partSize = Number(partSize);
  }
  const redirect = params.get("redirect");
  if (redirect !== null) {
    if (!["true", "false", "1", "0"].includes(redirect)) {
      throw new Error(`s3 storage redirect "${redirect}" must be true or false`);
    }
    options.redirect = redirect === "true" || redirect === "1";
  }
  return options;
}

/**
 * Prove the bucket answers with these credentials (one ListObjectsV2 of at most one key under
 * the prefix): a bad endpoint, bucket or key fails at startup rather than at the first push.
 */
export async function probeS3(options: S3StorageOptions): Promise<void> {
  const client = new S3Client(options);
  await client.listObjects({ prefix: options.prefix ? `${options.prefix}/` : "", maxKeys: 1 });
}
