/**
 * A thin S3 client over aws4fetch for one bucket, built by composition: one transport (signing,
 * retries, errors: transport.ts) that the object and listing operations (objects.ts) and the
 * multipart operations (multipart.ts) share. It knows nothing of any storage adapter; its options
 * are its own ({@link S3ClientOptions}).
 *
 * @module
 */
import { type MultipartUploadRef, type PartInfo, S3Multipart } from "./multipart.ts";
import {
  type ListObjectsOptions,
  type ListObjectsResult,
  type ObjectBody,
  type ObjectBytes,
  type ObjectInfo,
  type PutObjectOptions,
  S3Objects,
} from "./objects.ts";
import { type S3ClientOptions, type S3Range, S3Transport } from "./transport.ts";

export type { MultipartUploadRef, PartInfo } from "./multipart.ts";
export type {
  ListedObject,
  ListObjectsOptions,
  ListObjectsResult,
  ObjectBody,
  ObjectBytes,
  ObjectInfo,
  PutObjectOptions,
} from "./objects.ts";
export type { S3ClientOptions, S3Connection, S3Range } from "./transport.ts";

/**
 * An S3 client for one bucket: every operation of {@link S3Objects} and {@link S3Multipart}, over
 * one {@link S3Transport}.
 *
 * @example
 * ```ts
 * const s3 = new S3Client({
 *   endpoint: "http://127.0.0.1:9000", bucket: "registry", region: "us-east-1",
 *   accessKeyId: "...", secretAccessKey: "...",
 * });
 * await s3.putObject("hello.txt", "hi");
 * const uploadId = await s3.createMultipartUpload("big");
 * const etag = await s3.uploadPart("big", uploadId, 1, new Uint8Array(5 << 20));
 * await s3.completeMultipartUpload("big", uploadId, [{ partNumber: 1, etag }]);
 * ```
 */
export class S3Client {
  /** Signed requests to the bucket. */
  readonly transport: S3Transport;
  /** Object and listing operations. */
  readonly objects: S3Objects;
  /** Multipart operations. */
  readonly multipart: S3Multipart;

  /** @param options Endpoint, bucket, region, credentials, retries. */
  constructor(options: S3ClientOptions) {
    this.transport = new S3Transport(options);
    this.objects = new S3Objects(this.transport, options.ifMatchStyle);
    this.multipart = new S3Multipart(this.transport);
  }

  /** The bucket's name. */
  get bucket(): string {
    return this.transport.bucket;
  }

  /** {@link S3Transport.presignGet}. */
  presignGet(key: string, expiresInSeconds?: number): Promise<string> {
    return this.transport.presignGet(key, expiresInSeconds);
  }

  /** {@link S3Objects.putObject}. */
  putObject(
    key: string,
    body: Uint8Array | string,
    options?: PutObjectOptions,
  ): Promise<string | undefined> {
    return this.objects.putObject(key, body, options);
  }

  /** {@link S3Objects.getObject}. */
  getObject(key: string, range?: S3Range): Promise<ObjectBody | undefined> {
    return this.objects.getObject(key, range);
  }

  /** {@link S3Objects.getBytes}. */
  getBytes(key: string): Promise<ObjectBytes | undefined> {
    return this.objects.getBytes(key);
  }

  /** {@link S3Objects.headObject}. */
  headObject(key: string): Promise<ObjectInfo | undefined> {
    return this.objects.headObject(key);
  }

  /** {@link S3Objects.deleteObject}. */
  deleteObject(key: string): Promise<void> {
    return this.objects.deleteObject(key);
  }

  /** {@link S3Objects.deleteObjects}. */
  deleteObjects(keys: string[]): Promise<void> {
    return this.objects.deleteObjects(keys);
  }

  /** {@link S3Objects.copyObject}. */
  copyObject(source: string, target: string): Promise<string> {
    return this.objects.copyObject(source, target);
  }

  /** {@link S3Objects.listObjects}. */
  listObjects(options?: ListObjectsOptions): Promise<ListObjectsResult> {
    return this.objects.listObjects(options);
  }

  /** {@link S3Objects.listAll}. */
  listAll(options?: ListObjectsOptions): AsyncGenerator<ListObjectsResult> {
    return this.objects.listAll(options);
  }

  /** {@link S3Objects.listKeys}. */
  listKeys(prefix: string): Promise<string[]> {
    return this.objects.listKeys(prefix);
  }

  /** {@link S3Objects.createBucket}. */
  createBucket(): Promise<void> {
    return this.objects.createBucket();
  }

  /** {@link S3Multipart.createMultipartUpload}. */
  createMultipartUpload(key: string): Promise<string> {
    return this.multipart.createMultipartUpload(key);
  }

  /** {@link S3Multipart.uploadPart}. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string> {
    return this.multipart.uploadPart(key, uploadId, partNumber, body);
  }

  /** {@link S3Multipart.uploadPartCopy}. */
  uploadPartCopy(
    key: string,
    uploadId: string,
    partNumber: number,
    source: string,
    range?: S3Range,
  ): Promise<string> {
    return this.multipart.uploadPartCopy(key, uploadId, partNumber, source, range);
  }

  /** {@link S3Multipart.completeMultipartUpload}. */
  completeMultipartUpload(key: string, uploadId: string, parts: PartInfo[]): Promise<string> {
    return this.multipart.completeMultipartUpload(key, uploadId, parts);
  }

  /** {@link S3Multipart.abortMultipartUpload}. */
  abortMultipartUpload(key: string, uploadId: string): Promise<boolean> {
    return this.multipart.abortMultipartUpload(key, uploadId);
  }

  /** {@link S3Multipart.listParts}. */
  listParts(key: string, uploadId: string): Promise<PartInfo[] | undefined> {
    return this.multipart.listParts(key, uploadId);
  }

  /** {@link S3Multipart.listMultipartUploads}. */
  listMultipartUploads(prefix?: string): Promise<MultipartUploadRef[]> {
    return this.multipart.listMultipartUploads(prefix);
  }
}
