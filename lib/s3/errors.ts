/**
 * The error an S3 request answers with.
 *
 * @module
 */

/**
 * An S3 request that failed: the HTTP status and the S3 error code and message from the body.
 *
 * @example
 * ```ts
 * try {
 *   await client.completeMultipartUpload(key, uploadId, parts);
 * } catch (error) {
 *   if (error instanceof S3Error && error.code === "InvalidPart") {
 *     // ...
 *   }
 * }
 * ```
 */
export class S3Error extends Error {
  /** HTTP status (200 for the errors S3 sends inside a 200, as CompleteMultipartUpload may). */
  readonly status: number;
  /** The S3 error code (`NoSuchKey`, `PreconditionFailed`, ...), or `""` when the body had none. */
  readonly code: string;
  /** The operation and key, for the message. */
  readonly operation: string;

  /**
   * @param status HTTP status.
   * @param code S3 error code.
   * @param operation What was attempted (`PUT key`).
   * @param detail The S3 message, if any.
   */
  constructor(status: number, code: string, operation: string, detail = "") {
    super(`S3 ${operation} failed: ${status} ${code}${detail ? `: ${detail}` : ""}`);
    this.name = "S3Error";
    this.status = status;
    this.code = code;
    this.operation = operation;
  }
}
