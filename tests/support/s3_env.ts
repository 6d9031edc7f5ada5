/**
 * The S3 endpoint the S3 tests run against, from the environment (`tests/run.ts` starts Ceph
 * RGW through tests/support/ceph.sh and sets these; by hand: `eval "$(tests/support/ceph.sh
 * start)"`): S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION (default us-east-1),
 * S3_BUCKET (default registry-test). Missing variables are an error that says how to set them,
 * never a silent skip.
 *
 * @module
 */
import process from "node:process";
import { S3Client } from "../../lib/s3/client.ts";

/** Where the S3 tests run. */
export interface S3TestEnv {
  /** Service URL. */
  endpoint: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Region for signing. */
  region: string;
  /** Bucket (created if missing by {@link prepareS3}). */
  bucket: string;
}

/**
 * The S3 test environment, or an Error naming the missing variables and how to get them.
 *
 * @example
 * ```ts
 * const env = s3TestEnv();
 * const storage = s3Storage({ ...env, prefix: "t1" });
 * ```
 */
export function s3TestEnv(): S3TestEnv {
  const env = process.env;
  const missing = ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"].filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new Error(
      `the S3 tests need ${missing.join(", ")} (and optionally S3_REGION, S3_BUCKET): run them ` +
        `through \`npx tsx tests/run.ts\`, which starts Ceph RGW, or start it yourself with ` +
        `\`eval "$(tests/support/ceph.sh start)"\` (needs apt packages radosgw ceph-mon ceph-osd)`,
    );
  }
  return {
    endpoint: env.S3_ENDPOINT!,
    accessKeyId: env.S3_ACCESS_KEY!,
    secretAccessKey: env.S3_SECRET_KEY!,
    region: env.S3_REGION || "us-east-1",
    bucket: env.S3_BUCKET || "registry-test",
  };
}

/** A client for the test bucket. */
export function s3TestClient(env: S3TestEnv): S3Client {
  return new S3Client(env);
}

/** Create the bucket if needed; throws a clear error when the endpoint does not answer. */
export async function prepareS3(env: S3TestEnv): Promise<void> {
  try {
    await s3TestClient(env).createBucket();
  } catch (error) {
    throw new Error(`S3 endpoint ${env.endpoint} (bucket ${env.bucket}) is not usable: ${error}`);
  }
}

/**
 * A key prefix no other test run uses: `test/<runtime>-<time>-<random>/` (TEST_RUNTIME is set
 * by tests/run.ts, so the three runtimes sharing one bucket keep apart).
 */
export function uniquePrefix(label = "s3"): string {
  const runtime = process.env.TEST_RUNTIME ?? "local";
  return `test/${label}-${runtime}-${Date.now().toString(36)}-${
    Math.random().toString(36).slice(2, 8)
  }/`;
}

/** Delete every object and abort every multipart upload under `prefix`. Answers what remains. */
export async function removePrefix(env: S3TestEnv, prefix: string): Promise<number> {
  const s3 = s3TestClient(env);
  for (const upload of await s3.listMultipartUploads(prefix)) {
    await s3.abortMultipartUpload(upload.key, upload.uploadId);
  }
  const keys: string[] = [];
  for await (const page of s3.listAll({ prefix })) keys.push(...page.objects.map((o) => o.key));
  await s3.deleteObjects(keys);
  const left = await s3.listObjects({ prefix, maxKeys: 10 });
  return left.objects.length + (await s3.listMultipartUploads(prefix)).length;
}
