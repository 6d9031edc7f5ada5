/**
 * The object and listing operations of the S3 client: Put (conditional too), Get, Head, Delete,
 * Copy, ListObjectsV2, CreateBucket, over an {@link S3Transport}. The multipart operations are in
 * multipart.ts; client.ts puts both together.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { S3Error } from "./errors.ts";
import { discard, errorInBody, type S3Range, type S3Transport } from "./transport.ts";
import { xmlBlocks, xmlEscape, xmlText } from "./xml.ts";

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

/** Options of {@link S3Objects.putObject}. */
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

/** Options of {@link S3Objects.listObjects} (ListObjectsV2). */
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

const encoder = new TextEncoder();
const md5 = (bytes: Uint8Array, encoding: "hex" | "base64") =>
  createHash("md5").update(bytes).digest(encoding);

function infoOf(response: Response, size?: number): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [name, value] of response.headers) {
    if (name.startsWith("x-amz-meta-")) metadata[name.slice(11)] = value;
  }
  return {
    size: size ?? Number(response.headers.get("Content-Length") ?? 0),
    etag: response.headers.get("ETag") ?? "",
    contentType: response.headers.get("Content-Type") ?? undefined,
    metadata,
  };
}

/**
 * Object and listing operations on one bucket, sent through a transport.
 *
 * @example
 * ```ts
 * const objects = new S3Objects(new S3Transport({
 *   endpoint: "http://127.0.0.1:9000", bucket: "registry", region: "us-east-1",
 *   accessKeyId: "...", secretAccessKey: "...",
 * }));
 * await objects.putObject("hello.txt", "hi");
 * const got = await objects.getBytes("hello.txt"); // { bytes, etag, size, ... }
 * ```
 */
export class S3Objects {
  readonly #transport: S3Transport;
  #ifMatchStyle: "quoted" | "bare" | undefined;

  /**
   * @param transport Signed requests to the bucket.
   * @param ifMatchStyle How the store wants `If-Match` values; learned on first use when not given.
   */
  constructor(transport: S3Transport, ifMatchStyle?: "quoted" | "bare") {
    this.#transport = transport;
    this.#ifMatchStyle = ifMatchStyle;
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
      const response = await this.#transport.send("PUT", "PutObject", {
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
        const ours = `"${md5(bytes, "hex")}"`;
        return now?.etag === ours ? ours : undefined;
      }
      return response.status === 412 ? undefined : response.headers.get("ETag") ?? "";
    };
    if (options.ifMatch === undefined) return await put();
    const bare = options.ifMatch.replace(/^"|"$/g, "");
    const styled = (style: "quoted" | "bare") => style === "bare" ? bare : `"${bare}"`;
    const known = this.#ifMatchStyle;
    if (known) return await put(styled(known));
    // Style not learned yet: S3's quoted form first, then the bare one (RGW).
    for (const style of ["quoted", "bare"] as const) {
      const etag = await put(styled(style));
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
    const response = await this.#transport.send("GET", "GetObject", { key, headers, allow: [404] });
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

  /**
   * GetObject read to its end, for small objects only (state, tags, manifests, tails of at most
   * one part). `undefined` when the object does not exist.
   */
  async getBytes(key: string): Promise<ObjectBytes | undefined> {
    const response = await this.#transport.send("GET", "GetObject", { key, allow: [404] });
    if (response.status === 404) {
      await discard(response);
      return undefined;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { ...infoOf(response, bytes.byteLength), bytes };
  }

  /** HeadObject. `undefined` when the object does not exist. */
  async headObject(key: string): Promise<ObjectInfo | undefined> {
    const response = await this.#transport.send("HEAD", "HeadObject", { key, allow: [404] });
    await discard(response);
    return response.status === 404 ? undefined : infoOf(response);
  }

  /** DeleteObject (succeeds whether or not the object existed). */
  async deleteObject(key: string): Promise<void> {
    await discard(await this.#transport.send("DELETE", "DeleteObject", { key, allow: [404] }));
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
      const response = await this.#transport.send("POST", "DeleteObjects", {
        query: { delete: "" },
        headers: { "Content-Type": "application/xml", "Content-MD5": md5(body, "base64") },
        body,
      });
      const text = await response.text();
      const error = xmlBlocks(text, "Error")[0];
      if (error !== undefined) {
        throw errorInBody(response.status, `DeleteObjects ${xmlText(error, "Key") ?? ""}`, error);
      }
    }
  }

  /** CopyObject within the bucket (up to 5 GiB; UploadPartCopy beyond). Answers the ETag. */
  async copyObject(source: string, target: string): Promise<string> {
    const response = await this.#transport.send("PUT", "CopyObject", {
      key: target,
      headers: { "x-amz-copy-source": this.#transport.copySource(source) },
    });
    const text = await response.text();
    const error = errorInBody(response.status, `CopyObject ${target}`, text, false);
    if (error) throw error;
    return xmlText(text, "ETag") ?? "";
  }

  /** ListObjectsV2: one page. */
  async listObjects(options: ListObjectsOptions = {}): Promise<ListObjectsResult> {
    const response = await this.#transport.send("GET", "ListObjectsV2", {
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

  /** Every key under `prefix`. */
  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.listAll({ prefix })) {
      for (const o of page.objects) keys.push(o.key);
    }
    return keys;
  }

  /** CreateBucket; a bucket that already exists and is ours is fine. */
  async createBucket(): Promise<void> {
    const response = await this.#transport.send("PUT", "CreateBucket", { allow: [409] });
    const text = await response.text();
    if (response.status === 409 && xmlText(text, "Code") !== "BucketAlreadyOwnedByYou") {
      throw new S3Error(409, xmlText(text, "Code") ?? "", `CreateBucket ${this.#transport.bucket}`);
    }
  }
}
