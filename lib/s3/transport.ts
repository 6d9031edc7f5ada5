/**
 * The request plumbing of the S3 client: SigV4 signing over `fetch` (aws4fetch, which runs on
 * Node, Deno, Bun and Workers), path-style URLs, retries of idempotent requests, and turning an
 * error answer into an {@link S3Error}. The operations (objects.ts, multipart.ts) take a transport;
 * client.ts puts them together.
 *
 * Bodies are sent as buffered bytes with their SHA-256 in `x-amz-content-sha256` (signed
 * payloads): S3 needs a known length per request, Node's fetch buffers a whole streamed request
 * body anyway unless the request sets `redirect: "error"`, and Deno drops `Content-Length` on
 * stream bodies (S3 then answers 411). Path-style addressing (`ENDPOINT/BUCKET/KEY`), which AWS,
 * R2, MinIO and Ceph RGW all accept.
 *
 * @module
 */
import { AwsClient } from "aws4fetch";
import { createHash } from "node:crypto";
import { S3Error } from "./errors.ts";
import { xmlBlocks, xmlText } from "./xml.ts";

/** Where a bucket is and the credentials to use it. */
export interface S3Connection {
  /** Service URL, e.g. `https://s3.us-east-1.amazonaws.com`, `http://127.0.0.1:9000`. */
  endpoint: string;
  /** The bucket (must exist). */
  bucket: string;
  /** Region for signing (`us-east-1`; `auto` for R2). */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token, for temporary credentials. */
  sessionToken?: string;
}

/** Options of the S3 client (lib/s3/client.ts). */
export interface S3ClientOptions extends S3Connection {
  /**
   * Retries of idempotent requests on network errors, 5xx and 429 (default 3). Conditional writes
   * are never retried: a retry of one that succeeded would answer 412.
   */
  retries?: number;
  /**
   * How the store wants `If-Match` values: `quoted` (`"etag"`, as S3 sends them) or `bare`
   * (Ceph RGW 16 compares the raw stored value and fails every quoted one). Learned from the
   * first conditional write that succeeds when not given.
   */
  ifMatchStyle?: "quoted" | "bare";
}

/** A byte range, inclusive. */
export interface S3Range {
  /** First byte. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/** One request, as {@link S3Transport.send} takes it. */
export interface SendOptions {
  /** The object key; none for bucket operations. */
  key?: string;
  /** Query parameters (undefined values are left out). */
  query?: Record<string, string | undefined>;
  /** Request headers. */
  headers?: Record<string, string>;
  /** The body, buffered (its SHA-256 is signed). */
  body?: Uint8Array;
  /** Statuses answered to the caller instead of thrown (404, 412...). */
  allow?: number[];
  /** Retry on network errors, 5xx and 429 (idempotent requests only; default true). */
  retry?: boolean;
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * Encode an object key for a URL path, keeping `/`.
 *
 * @example
 * ```ts
 * encodeKey("a b/c(1)"); // "a%20b/c%281%29"
 * ```
 */
export function encodeKey(key: string): string {
  return key.split("/").map((part) =>
    encodeURIComponent(part).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

/**
 * Cancel a response body nobody will read (so the connection can be reused).
 *
 * @example
 * ```ts
 * await discard(await fetch(url, { method: "DELETE" }));
 * ```
 */
export async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already consumed or closed
  }
}

/**
 * The {@link S3Error} an S3 XML body describes (`<Error><Code>..<Message>..`), or any error in
 * it when `always` is false: S3 may answer 200 and report the failure in the body.
 *
 * @example
 * ```ts
 * const error = errorInBody(200, "CopyObject k", text, false);
 * if (error) throw error;
 * ```
 */
export function errorInBody(
  status: number,
  operation: string,
  text: string,
  always = true,
): S3Error | undefined {
  const block = xmlBlocks(text, "Error")[0];
  if (!always && block === undefined) return undefined;
  const source = block ?? text;
  return new S3Error(
    status,
    xmlText(source, "Code") ?? "",
    operation,
    xmlText(source, "Message") ?? "",
  );
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Signed requests to one bucket: what every S3 operation goes through.
 *
 * @example
 * ```ts
 * const transport = new S3Transport({ endpoint, bucket, region, accessKeyId, secretAccessKey });
 * const response = await transport.send("GET", "ListObjectsV2", { query: { "list-type": "2" } });
 * ```
 */
export class S3Transport {
  readonly #aws: AwsClient;
  readonly #base: string;
  readonly #retries: number;
  /** The bucket's name. */
  readonly bucket: string;

  /** @param options Endpoint, bucket, region and credentials. */
  constructor(options: S3ClientOptions) {
    this.#aws = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      sessionToken: options.sessionToken,
      service: "s3",
      region: options.region,
      retries: 0,
    });
    this.bucket = options.bucket;
    this.#base = `${options.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(options.bucket)}`;
    this.#retries = options.retries ?? 3;
  }

  #url(key: string | undefined, query?: Record<string, string | undefined>): URL {
    const url = new URL(key === undefined ? this.#base : `${this.#base}/${encodeKey(key)}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    return url;
  }

  /** The `x-amz-copy-source` value naming `key` in this bucket. */
  copySource(key: string): string {
    return `/${encodeURIComponent(this.bucket)}/${encodeKey(key)}`;
  }

  /**
   * Sign and send one request; answers the response when it is 2xx or an `allow`ed status, throws
   * {@link S3Error} otherwise (after retries, for idempotent requests).
   */
  async send(method: string, operation: string, options: SendOptions): Promise<Response> {
    const url = this.#url(options.key, options.query).toString();
    const body = options.body && options.body.byteLength > 0 ? options.body : undefined;
    const headers: Record<string, string> = {
      ...options.headers,
      "x-amz-content-sha256": body ? createHash("sha256").update(body).digest("hex") : EMPTY_SHA256,
    };
    const attempts = options.retry === false ? 1 : this.#retries + 1;
    for (let attempt = 1;; attempt++) {
      let response: Response;
      try {
        const request = await this.#aws.sign(url, {
          method,
          headers,
          body: body as Uint8Array<ArrayBuffer> | undefined,
        });
        response = await fetch(request);
      } catch (error) {
        if (attempt >= attempts) throw error;
        await sleep(50 * 2 ** attempt);
        continue;
      }
      if (response.ok || options.allow?.includes(response.status)) return response;
      if ((response.status >= 500 || response.status === 429) && attempt < attempts) {
        await discard(response);
        await sleep(50 * 2 ** attempt);
        continue;
      }
      const text = method === "HEAD" ? "" : await response.text().catch(() => "");
      throw errorInBody(response.status, `${operation} ${options.key ?? this.bucket}`, text);
    }
  }

  /** A presigned GET URL for `key`, valid for `expiresInSeconds` (at most 7 days). */
  async presignGet(key: string, expiresInSeconds = 900): Promise<string> {
    const url = this.#url(key, {
      "X-Amz-Expires": String(Math.min(604800, Math.max(1, expiresInSeconds))),
    });
    const signed = await this.#aws.sign(url.toString(), {
      method: "GET",
      aws: { signQuery: true },
    });
    return signed.url;
  }
}
