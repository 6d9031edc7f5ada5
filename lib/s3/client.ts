/**
 * A thin S3 client over aws4fetch (SigV4 over `fetch`, on Node, Deno, Bun and Workers): the
 * object, listing and multipart operations the S3 storage adapter needs, nothing more.
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
import { xmlBlocks, xmlEscape, xmlText } from "./xml.ts";

/** Options of {@link S3Client}. */
export interface S3ClientOptions {
  /** Service URL, e.g. `https://s3.us-east-1.amazonaws.com` or `http://127.0.0.1:9000`. */
  endpoint: string;
  /** Bucket name. */
  bucket: string;
  /** Region for SigV4 (`us-east-1`, `auto` for R2). */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token, for temporary credentials. */
  sessionToken?: string;
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

/** What a HEAD (or GET) tells about an object. */
export interface ObjectInfo {
  /** Size in bytes (of the whole object, also for ranged GETs). */
  size: number;
  /** The ETag, as the store sends it (quoted). */
  etag: string;
  /** The Content-Type it was stored with. */
  contentType?: string;
  /** User metadata (`x-amz-meta-*`), names lowercased, without the prefix. */
  metadata: Record<string, string>;
}

/** A GET: the info and the body stream. */
export interface ObjectBody extends ObjectInfo {
  /** The object's bytes (or the requested range). */
  body: ReadableStream<Uint8Array>;
}

/** A GET read to its end. */
export interface ObjectBytes extends ObjectInfo {
  /** The object's bytes. */
  bytes: Uint8Array;
}

/** Options of {@link S3Client.putObject}. */
export interface PutObjectOptions {
  /** Content-Type to store. */
  contentType?: string;
  /** User metadata (ASCII values). */
  metadata?: Record<string, string>;
  /** Write only if the object's current ETag is this one (as received, quoted). */
  ifMatch?: string;
  /** `*`: write only if the object does not exist. */
  ifNoneMatch?: "*";
}

/** One object in a listing. */
export interface ListedObject {
  /** Full key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** ETag (quoted). */
  etag: string;
}

/** Options of {@link S3Client.listObjects} (ListObjectsV2). */
export interface ListObjectsOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys strictly after this one (byte order). */
  startAfter?: string;
  /** Group keys sharing a prefix up to this delimiter into `prefixes`. */
  delimiter?: string;
  /** At most this many entries (the store caps it at 1000). */
  maxKeys?: number;
  /** The `continuationToken` of the previous page. */
  continuationToken?: string;
}

/** One page of ListObjectsV2. */
export interface ListObjectsResult {
  /** Objects, in key byte order. */
  objects: ListedObject[];
  /** Common prefixes (with `delimiter`), in byte order. */
  prefixes: string[];
  /** Whether more entries remain. */
  truncated: boolean;
  /** Token for the next page when `truncated`. */
  continuationToken?: string;
}

/** A part of a multipart upload. */
export interface PartInfo {
  /** Part number, 1..10000. */
  partNumber: number;
  /** The ETag UploadPart answered (quoted). */
  etag: string;
  /** Size in bytes (from ListParts). */
  size?: number;
}

/** A byte range, inclusive. */
export interface S3Range {
  /** First byte. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const encoder = new TextEncoder();

interface SendOptions {
  key?: string;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses answered to the caller instead of thrown (404, 412...). */
  allow?: number[];
  /** Retry on network errors, 5xx and 429 (idempotent requests only). */
  retry?: boolean;
}

/** Encode an object key for a URL path, keeping `/`. */
function encodeKey(key: string): string {
  return key.split("/").map((part) =>
    encodeURIComponent(part).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function infoOf(response: Response, size?: number): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [name, value] of response.headers) {
    if (name.startsWith("x-amz-meta-")) metadata[name.slice(11)] = value;
  }
  const contentType = response.headers.get("Content-Type") ?? undefined;
  return {
    size: size ?? Number(response.headers.get("Content-Length") ?? 0),
    etag: response.headers.get("ETag") ?? "",
    contentType,
    metadata,
  };
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already consumed or closed
  }
}

/**
 * An S3 client for one bucket.
 *
 * @example
 * ```ts
 * const s3 = new S3Client({
 *   endpoint: "http://127.0.0.1:9000", bucket: "registry", region: "us-east-1",
 *   accessKeyId: "...", secretAccessKey: "...",
 * });
 * await s3.putObject("hello.txt", new TextEncoder().encode("hi"));
 * const got = await s3.getBytes("hello.txt"); // { bytes, etag, size, ... }
 * ```
 */
export class S3Client {
  readonly #aws: AwsClient;
  readonly #base: string;
  readonly #bucket: string;
  readonly #retries: number;
  #ifMatchStyle: "quoted" | "bare" | undefined;

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
    this.#bucket = options.bucket;
    this.#base = `${options.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(options.bucket)}`;
    this.#retries = options.retries ?? 3;
    this.#ifMatchStyle = options.ifMatchStyle;
  }

  #url(key: string | undefined, query?: Record<string, string | undefined>): URL {
    const url = new URL(key === undefined ? this.#base : `${this.#base}/${encodeKey(key)}`);
    if (query) {
      for (const [name, value] of Object.entries(query)) {
        if (value !== undefined) url.searchParams.set(name, value);
      }
    }
    return url;
  }

  async #send(method: string, operation: string, options: SendOptions): Promise<Response> {
    const url = this.#url(options.key, options.query);
    const body = options.body;
    const headers: Record<string, string> = {
      ...options.headers,
      "x-amz-content-sha256": body && body.byteLength > 0 ? sha256Hex(body) : EMPTY_SHA256,
    };
    const attempts = options.retry === false ? 1 : this.#retries + 1;
    for (let attempt = 1;; attempt++) {
      let response: Response;
      try {
        const request = await this.#aws.sign(url.toString(), {
          method,
          headers,
          body: body && body.byteLength > 0 ? body as Uint8Array<ArrayBuffer> : undefined,
        });
        response = await fetch(request);
      } catch (error) {
        if (attempt < attempts) {
          await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
          continue;
        }
        throw error;
      }
      if (response.ok || options.allow?.includes(response.status)) return response;
      if ((response.status >= 500 || response.status === 429) && attempt < attempts) {
        await discard(response);
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        continue;
      }
      const text = method === "HEAD" ? "" : await response.text().catch(() => "");
      throw new S3Error(
        response.status,
        xmlText(text, "Code") ?? "",
        `${operation} ${options.key ?? this.#bucket}`,
        xmlText(text, "Message") ?? "",
      );
    }
  }

  /** The header value for `If-Match: etag`, in the style the store wants. */
  #ifMatch(etag: string, style: "quoted" | "bare"): string {
    const bare = etag.replace(/^"|"$/g, "");
    return style === "bare" ? bare : `"${bare}"`;
  }

  /**
   * PutObject. Answers the new ETag, or `undefined` when a condition (`ifMatch`,
   * `ifNoneMatch`) failed.
   */
  async putObject(
    key: string,
    body: Uint8Array | string,
    options: PutObjectOptions = {},
  ): Promise<string | undefined> {
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    const headers: Record<string, string> = {};
    if (options.contentType) headers["Content-Type"] = options.contentType;
    for (const [name, value] of Object.entries(options.metadata ?? {})) {
      headers[`x-amz-meta-${name}`] = value;
    }
    if (options.ifNoneMatch) headers["If-None-Match"] = options.ifNoneMatch;
    const conditional = options.ifMatch !== undefined || options.ifNoneMatch !== undefined;
    const put = async (ifMatch?: string) => {
      const response = await this.#send("PUT", "PutObject", {
        key,
        headers: ifMatch === undefined ? headers : { ...headers, "If-Match": ifMatch },
        body: bytes,
        allow: conditional ? [404, 412, 500, 503] : [404],
        retry: !conditional,
      });
      await discard(response);
      if (response.status === 404) {
        throw new S3Error(404, "NoSuchBucket", `PutObject ${key}`);
      }
      if (response.status >= 500) {
        // Ceph RGW answers 500 (ECANCELED) to the loser of two racing conditional PUTs, and any
        // 5xx leaves the outcome open: the object tells. Its ETag is the MD5 of what we sent
        // only if our write won (state bodies carry a nonce, so no one else writes the same).
        const now = await this.headObject(key);
        const ours = `"${createHash("md5").update(bytes).digest("hex")}"`;
        return now?.etag === ours ? ours : undefined;
      }
      return response.status === 412 ? undefined : response.headers.get("ETag") ?? "";
    };
    if (options.ifMatch === undefined) return await put();
    const known = this.#ifMatchStyle;
    if (known) return await put(this.#ifMatch(options.ifMatch, known));
    // Style not learned yet: S3's quoted form first, then the bare one (RGW).
    for (const style of ["quoted", "bare"] as const) {
      const etag = await put(this.#ifMatch(options.ifMatch, style));
      if (etag !== undefined) {
        this.#ifMatchStyle = style;
        return etag;
      }
    }
    return undefined;
  }

  /** GetObject (whole, or an inclusive range). `undefined` when the object does not exist. */
  async getObject(key: string, range?: S3Range): Promise<ObjectBody | undefined> {
    const headers: Record<string, string> = {};
    if (range) headers.Range = `bytes=${range.start}-${range.end}`;
    const response = await this.#send("GET", "GetObject", { key, headers, allow: [404] });
    if (response.status === 404) {
      await discard(response);
      return undefined;
    }
    let size: number | undefined;
    const contentRange = response.headers.get("Content-Range");
    if (contentRange) size = Number(contentRange.slice(contentRange.lastIndexOf("/") + 1));
    if (range && response.status !== 206) {
      await discard(response);
      throw new S3Error(response.status, "RangeIgnored", `GetObject ${key}`, "no 206 for a Range");
    }
    return { ...infoOf(response, size), body: response.body ?? new Blob([]).stream() };
  }

  /** GetObject read to its end. `undefined` when the object does not exist. */
  async getBytes(key: string): Promise<ObjectBytes | undefined> {
    const response = await this.#send("GET", "GetObject", { key, allow: [404] });
    if (response.status === 404) {
      await discard(response);
      return undefined;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { ...infoOf(response, bytes.byteLength), bytes };
  }

  /** HeadObject. `undefined` when the object does not exist. */
  async headObject(key: string): Promise<ObjectInfo | undefined> {
    const response = await this.#send("HEAD", "HeadObject", { key, allow: [404] });
    await discard(response);
    return response.status === 404 ? undefined : infoOf(response);
  }

  /** DeleteObject (succeeds whether or not the object existed). */
  async deleteObject(key: string): Promise<void> {
    await discard(await this.#send("DELETE", "DeleteObject", { key, allow: [404] }));
  }

  /** DeleteObjects, in batches of 1000. Throws if the store reports a key it failed to delete. */
  async deleteObjects(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (batch.length === 1) {
        await this.deleteObject(batch[0]);
        continue;
      }
      const xml = `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>${
        batch.map((k) => `<Object><Key>${xmlEscape(k)}</Key></Object>`).join("")
      }</Delete>`;
      const body = encoder.encode(xml);
      const response = await this.#send("POST", "DeleteObjects", {
        query: { delete: "" },
        headers: {
          "Content-Type": "application/xml",
          "Content-MD5": createHash("md5").update(body).digest("base64"),
        },
        body,
      });
      const text = await response.text();
      const errors = xmlBlocks(text, "Error");
      if (errors.length > 0) {
        throw new S3Error(
          response.status,
          xmlText(errors[0], "Code") ?? "",
          `DeleteObjects ${xmlText(errors[0], "Key") ?? ""}`,
          xmlText(errors[0], "Message") ?? "",
        );
      }
    }
  }

  /** CopyObject within the bucket (up to 5 GiB; see {@link S3Client.uploadPartCopy} beyond). */
  async copyObject(source: string, target: string): Promise<string> {
    const response = await this.#send("PUT", "CopyObject", {
      key: target,
      headers: { "x-amz-copy-source": `/${encodeURIComponent(this.#bucket)}/${encodeKey(source)}` },
    });
    const text = await response.text();
    if (xmlBlocks(text, "Error").length > 0) {
      throw new S3Error(
        200,
        xmlText(text, "Code") ?? "",
        `CopyObject ${target}`,
        xmlText(text, "Message"),
      );
    }
    return xmlText(text, "ETag") ?? "";
  }

  /** ListObjectsV2: one page. */
  async listObjects(options: ListObjectsOptions = {}): Promise<ListObjectsResult> {
    const response = await this.#send("GET", "ListObjectsV2", {
      query: {
        "list-type": "2",
        prefix: options.prefix,
        "start-after": options.startAfter,
        delimiter: options.delimiter,
        "max-keys": options.maxKeys === undefined ? undefined : String(options.maxKeys),
        "continuation-token": options.continuationToken,
      },
    });
    const text = await response.text();
    const objects = xmlBlocks(text, "Contents").map((block) => ({
      key: xmlText(block, "Key") ?? "",
      size: Number(xmlText(block, "Size") ?? 0),
      etag: xmlText(block, "ETag") ?? "",
    }));
    const prefixes = xmlBlocks(text, "CommonPrefixes").map((b) => xmlText(b, "Prefix") ?? "");
    const truncated = xmlText(text, "IsTruncated") === "true";
    return {
      objects,
      prefixes,
      truncated,
      continuationToken: truncated ? xmlText(text, "NextContinuationToken") : undefined,
    };
  }

  /**
   * Every object (and common prefix) of a listing, page after page.
   *
   * @example
   * ```ts
   * for await (const page of s3.listAll({ prefix: "uploads/", delimiter: "/" })) { ... }
   * ```
   */
  async *listAll(options: ListObjectsOptions = {}): AsyncGenerator<ListObjectsResult> {
    let continuationToken = options.continuationToken;
    for (;;) {
      const page = await this.listObjects({ ...options, continuationToken });
      yield page;
      if (!page.truncated || !page.continuationToken) return;
      continuationToken = page.continuationToken;
    }
  }

  /** CreateMultipartUpload: answers the UploadId. */
  async createMultipartUpload(key: string): Promise<string> {
    const response = await this.#send("POST", "CreateMultipartUpload", {
      key,
      query: { uploads: "" },
    });
    const uploadId = xmlText(await response.text(), "UploadId");
    if (!uploadId) throw new S3Error(response.status, "NoUploadId", `CreateMultipartUpload ${key}`);
    return uploadId;
  }

  /** UploadPart with buffered bytes: answers the part's ETag. */
  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
  ): Promise<string> {
    const response = await this.#send("PUT", "UploadPart", {
      key,
      query: { partNumber: String(partNumber), uploadId },
      body,
    });
    await discard(response);
    return response.headers.get("ETag") ?? "";
  }

  /** UploadPartCopy: a part copied server-side from (a range of) `source`. Answers its ETag. */
  async uploadPartCopy(
    key: string,
    uploadId: string,
    partNumber: number,
    source: string,
    range?: S3Range,
  ): Promise<string> {
    const headers: Record<string, string> = {
      "x-amz-copy-source": `/${encodeURIComponent(this.#bucket)}/${encodeKey(source)}`,
    };
    if (range) headers["x-amz-copy-source-range"] = `bytes=${range.start}-${range.end}`;
    const response = await this.#send("PUT", "UploadPartCopy", {
      key,
      query: { partNumber: String(partNumber), uploadId },
      headers,
    });
    const text = await response.text();
    const etag = xmlText(text, "ETag");
    if (!etag) {
      throw new S3Error(
        200,
        xmlText(text, "Code") ?? "",
        `UploadPartCopy ${key}`,
        xmlText(text, "Message"),
      );
    }
    return etag;
  }

  /** CompleteMultipartUpload (parts in ascending order). Answers the object's ETag. */
  async completeMultipartUpload(key: string, uploadId: string, parts: PartInfo[]): Promise<string> {
    const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${
      parts.map((p) =>
        `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`
      )
        .join("")
    }</CompleteMultipartUpload>`;
    const response = await this.#send("POST", "CompleteMultipartUpload", {
      key,
      query: { uploadId },
      headers: { "Content-Type": "application/xml" },
      body: encoder.encode(xml),
    });
    // S3 may answer 200 and report the error in the body.
    const text = await response.text();
    if (xmlBlocks(text, "Error").length > 0 || !/<CompleteMultipartUploadResult/.test(text)) {
      throw new S3Error(
        response.status,
        xmlText(text, "Code") ?? "",
        `CompleteMultipartUpload ${key}`,
        xmlText(text, "Message") ?? "",
      );
    }
    return xmlText(text, "ETag") ?? "";
  }

  /** AbortMultipartUpload. False when the upload was unknown (already aborted or completed). */
  async abortMultipartUpload(key: string, uploadId: string): Promise<boolean> {
    const response = await this.#send("DELETE", "AbortMultipartUpload", {
      key,
      query: { uploadId },
      allow: [404],
    });
    await discard(response);
    return response.status !== 404;
  }

  /** ListParts, every page. `undefined` when the upload is unknown. */
  async listParts(key: string, uploadId: string): Promise<PartInfo[] | undefined> {
    const parts: PartInfo[] = [];
    let marker: string | undefined;
    for (;;) {
      const response = await this.#send("GET", "ListParts", {
        key,
        query: { uploadId, "part-number-marker": marker },
        allow: [404],
      });
      if (response.status === 404) {
        await discard(response);
        return undefined;
      }
      const text = await response.text();
      for (const block of xmlBlocks(text, "Part")) {
        parts.push({
          partNumber: Number(xmlText(block, "PartNumber")),
          etag: xmlText(block, "ETag") ?? "",
          size: Number(xmlText(block, "Size") ?? 0),
        });
      }
      if (xmlText(text, "IsTruncated") !== "true") return parts;
      marker = xmlText(text, "NextPartNumberMarker");
      if (!marker) return parts;
    }
  }

  /** ListMultipartUploads under `prefix`, every page: keys and UploadIds of uploads in progress. */
  async listMultipartUploads(prefix = ""): Promise<{ key: string; uploadId: string }[]> {
    const out: { key: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const response = await this.#send("GET", "ListMultipartUploads", {
        query: { uploads: "", prefix, "key-marker": keyMarker, "upload-id-marker": uploadIdMarker },
      });
      const text = await response.text();
      for (const block of xmlBlocks(text, "Upload")) {
        out.push({ key: xmlText(block, "Key") ?? "", uploadId: xmlText(block, "UploadId") ?? "" });
      }
      if (xmlText(text, "IsTruncated") !== "true") return out;
      keyMarker = xmlText(text, "NextKeyMarker");
      uploadIdMarker = xmlText(text, "NextUploadIdMarker");
      if (!keyMarker) return out;
    }
  }

  /** CreateBucket; a bucket that already exists and is ours is fine. */
  async createBucket(): Promise<void> {
    const response = await this.#send("PUT", "CreateBucket", { allow: [409] });
    const text = await response.text();
    if (response.status === 409 && xmlText(text, "Code") !== "BucketAlreadyOwnedByYou") {
      throw new S3Error(409, xmlText(text, "Code") ?? "", `CreateBucket ${this.#bucket}`);
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
