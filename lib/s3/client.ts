/**
 * A thin S3 client over aws4fetch: the object, listing (objects.ts) and multipart operations
 * the S3 storage adapter needs, nothing more. Request plumbing (signing, retries, errors) is in
 * transport.ts.
 *
 * @module
 */
import { S3Error } from "./errors.ts";
import { S3ObjectClient } from "./objects.ts";
import { discard, errorInBody, type S3Range } from "./transport.ts";
import { xmlBlocks, xmlEscape, xmlText } from "./xml.ts";

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

/** A part of a multipart upload. */
export interface PartInfo {
  /** Part number, 1..10000. */
  partNumber: number;
  /** The ETag UploadPart answered (quoted). */
  etag: string;
  /** Size in bytes (from ListParts). */
  size?: number;
}

/** A multipart upload in progress, as ListMultipartUploads names it. */
export interface MultipartUploadRef {
  /** The object key it completes into. */
  key: string;
  /** Its UploadId. */
  uploadId: string;
}

const encoder = new TextEncoder();

/**
 * An S3 client for one bucket.
 *
 * @example
 * ```ts
 * const s3 = new S3Client({
 *   endpoint: "http://127.0.0.1:9000", bucket: "registry", region: "us-east-1",
 *   accessKeyId: "...", secretAccessKey: "...",
 * });
 * const uploadId = await s3.createMultipartUpload("big");
 * const etag = await s3.uploadPart("big", uploadId, 1, new Uint8Array(5 << 20));
 * await s3.completeMultipartUpload("big", uploadId, [{ partNumber: 1, etag }]);
 * ```
 */
export class S3Client extends S3ObjectClient {
  /** CreateMultipartUpload: answers the UploadId. */
  async createMultipartUpload(key: string): Promise<string> {
    const response = await this.send("POST", "CreateMultipartUpload", {
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
    const response = await this.send("PUT", "UploadPart", {
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
    const headers: Record<string, string> = { "x-amz-copy-source": this.copySource(source) };
    if (range) headers["x-amz-copy-source-range"] = `bytes=${range.start}-${range.end}`;
    const response = await this.send("PUT", "UploadPartCopy", {
      key,
      query: { partNumber: String(partNumber), uploadId },
      headers,
    });
    const text = await response.text();
    const etag = xmlText(text, "ETag");
    if (!etag) throw errorInBody(response.status, `UploadPartCopy ${key}`, text);
    return etag;
  }

  /** CompleteMultipartUpload (parts in ascending order). Answers the object's ETag. */
  async completeMultipartUpload(key: string, uploadId: string, parts: PartInfo[]): Promise<string> {
    const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${
      parts.map((p) =>
        `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`
      ).join("")
    }</CompleteMultipartUpload>`;
    const response = await this.send("POST", "CompleteMultipartUpload", {
      key,
      query: { uploadId },
      headers: { "Content-Type": "application/xml" },
      body: encoder.encode(xml),
    });
    // S3 may answer 200 and report the error in the body.
    const text = await response.text();
    if (xmlBlocks(text, "Error").length > 0 || !/<CompleteMultipartUploadResult/.test(text)) {
      throw errorInBody(response.status, `CompleteMultipartUpload ${key}`, text);
    }
    return xmlText(text, "ETag") ?? "";
  }

  /** AbortMultipartUpload. False when the upload was unknown (already aborted or completed). */
  async abortMultipartUpload(key: string, uploadId: string): Promise<boolean> {
    const response = await this.send("DELETE", "AbortMultipartUpload", {
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
      const response = await this.send("GET", "ListParts", {
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
      marker = xmlText(text, "IsTruncated") === "true"
        ? xmlText(text, "NextPartNumberMarker")
        : undefined;
      if (!marker) return parts;
    }
  }

  /** ListMultipartUploads under `prefix`, every page: keys and UploadIds of uploads in progress. */
  async listMultipartUploads(prefix = ""): Promise<MultipartUploadRef[]> {
    const out: MultipartUploadRef[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const response = await this.send("GET", "ListMultipartUploads", {
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
}
