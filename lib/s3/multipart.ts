/**
 * The multipart operations of the S3 client (Create, UploadPart, UploadPartCopy, Complete, Abort,
 * ListParts, ListMultipartUploads), over an {@link S3Transport}.
 *
 * @module
 */
import { S3Error } from "./errors.ts";
import { discard, errorInBody, type S3Range, type S3Transport } from "./transport.ts";
import { xmlBlocks, xmlEscape, xmlText } from "./xml.ts";

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
 * Multipart uploads in one bucket, sent through a transport.
 *
 * @example
 * ```ts
 * const multipart = new S3Multipart(transport);
 * const uploadId = await multipart.createMultipartUpload("big");
 * const etag = await multipart.uploadPart("big", uploadId, 1, new Uint8Array(5 << 20));
 * await multipart.completeMultipartUpload("big", uploadId, [{ partNumber: 1, etag }]);
 * ```
 */
export class S3Multipart {
  readonly #transport: S3Transport;

  /** @param transport Signed requests to the bucket. */
  constructor(transport: S3Transport) {
    this.#transport = transport;
  }

  /** CreateMultipartUpload: answers the UploadId. */
  async createMultipartUpload(key: string): Promise<string> {
    const response = await this.#transport.send("POST", "CreateMultipartUpload", {
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
    const response = await this.#transport.send("PUT", "UploadPart", {
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
      "x-amz-copy-source": this.#transport.copySource(source),
    };
    if (range) headers["x-amz-copy-source-range"] = `bytes=${range.start}-${range.end}`;
    const response = await this.#transport.send("PUT", "UploadPartCopy", {
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
    const response = await this.#transport.send("POST", "CompleteMultipartUpload", {
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
    const response = await this.#transport.send("DELETE", "AbortMultipartUpload", {
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
      const response = await this.#transport.send("GET", "ListParts", {
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
      const response = await this.#transport.send("GET", "ListMultipartUploads", {
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
