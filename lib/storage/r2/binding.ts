/**
 * The subset of the Workers R2 bucket binding this adapter uses, declared here so the package
 * needs no `@cloudflare/workers-types` (a real binding, and Miniflare's, satisfy it).
 *
 * @module
 */

/** Conditions of a conditional `put` (or `get`). */
export interface R2Conditional {
  /** Only if the object's etag is this one. */
  etagMatches?: string;
  /** Only if the object's etag is not this one; `"*"`: only if no object exists. */
  etagDoesNotMatch?: string;
  /** Only if the object was uploaded before this time. */
  uploadedBefore?: Date;
  /** Only if the object was uploaded after this time. */
  uploadedAfter?: Date;
}

/** HTTP metadata stored with an object. */
export interface R2HttpMetadata {
  /** The object's Content-Type. */
  contentType?: string;
}

/** What `head`, `put` and `list` answer about an object. */
export interface R2Object {
  /** The key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** The etag (unquoted). */
  etag: string;
  /** Upload time. */
  uploaded: Date;
  /** HTTP metadata. */
  httpMetadata?: R2HttpMetadata;
  /** Custom metadata. */
  customMetadata?: Record<string, string>;
}

/** An object with its body, as `get` answers it. */
export interface R2ObjectBody extends R2Object {
  /** The bytes (of the range asked for). */
  body: ReadableStream<Uint8Array>;
  /** The whole body as bytes. */
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The whole body as text. */
  text(): Promise<string>;
}

/** A byte range of a `get`. */
export interface R2Range {
  /** First byte. */
  offset: number;
  /** Number of bytes. */
  length: number;
}

/** Options of `put`. */
export interface R2PutOptions {
  /** Write only if these hold; `put` answers `null` otherwise. */
  onlyIf?: R2Conditional;
  /** HTTP metadata to store. */
  httpMetadata?: R2HttpMetadata;
  /** Custom metadata to store. */
  customMetadata?: Record<string, string>;
}

/** Options of `list`. */
export interface R2ListOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** Continue a previous listing. */
  cursor?: string;
  /** Only keys strictly after this one. */
  startAfter?: string;
  /** Roll keys up to the first occurrence of this after the prefix. */
  delimiter?: string;
  /** At most this many (1000 at most). */
  limit?: number;
  /** Metadata to include in the listing. */
  include?: ("httpMetadata" | "customMetadata")[];
}

/** One page of a listing. */
export interface R2Objects {
  /** The objects. */
  objects: R2Object[];
  /** True when more remain (continue with `cursor`). */
  truncated: boolean;
  /** The cursor of the next page, when truncated. */
  cursor?: string;
  /** Prefixes rolled up by the delimiter. */
  delimitedPrefixes: string[];
}

/** An uploaded part of a multipart upload. */
export interface R2UploadedPart {
  /** Its number, from 1. */
  partNumber: number;
  /** Its etag. */
  etag: string;
}

/** A multipart upload in progress. */
export interface R2MultipartUpload {
  /** The key it completes into. */
  key: string;
  /** Its id (resume it with `resumeMultipartUpload`). */
  uploadId: string;
  /** Upload one part (every part but the last the same size, at least 5 MiB). */
  uploadPart(partNumber: number, value: Uint8Array | ArrayBuffer | string): Promise<R2UploadedPart>;
  /** Complete it: the object appears at `key`. */
  complete(parts: R2UploadedPart[]): Promise<R2Object>;
  /** Abort it: its parts are dropped. */
  abort(): Promise<void>;
}

/** The R2 bucket binding (`env.MY_BUCKET` in a Worker). */
export interface R2Bucket {
  /** An object's metadata, or `null`. */
  head(key: string): Promise<R2Object | null>;
  /** An object with its body (or a range of it), or `null`. */
  get(key: string, options?: { range?: R2Range }): Promise<R2ObjectBody | null>;
  /** Store an object; `null` when `onlyIf` does not hold. */
  put(
    key: string,
    value: Uint8Array | ArrayBuffer | string | ReadableStream | null,
    options?: R2PutOptions,
  ): Promise<R2Object | null>;
  /** Delete one or more keys (up to 1000). */
  delete(keys: string | string[]): Promise<void>;
  /** One page of keys. */
  list(options?: R2ListOptions): Promise<R2Objects>;
  /** Start a multipart upload into `key`. */
  createMultipartUpload(key: string, options?: R2PutOptions): Promise<R2MultipartUpload>;
  /** Continue a multipart upload (from any isolate). */
  resumeMultipartUpload(key: string, uploadId: string): R2MultipartUpload;
}
