/**
 * Content for seeding: bytes, strings, Blobs, files or JSON values, turned into bytes and
 * digested the way a client would before pushing.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

/** A file to read, by path or `file:` URL. */
export interface FileContent {
  /** Path or `file:` URL of the file. */
  file: string | URL;
}

/**
 * Bytes to push: a string (UTF-8), bytes, a Blob, or `{ file }` (read with node:fs, which Node,
 * Deno and Bun all provide).
 */
export type Content = string | Uint8Array | ArrayBuffer | Blob | FileContent;

/** An OCI content descriptor. */
export interface OciDescriptor {
  /** Media type of the content. */
  mediaType: string;
  /** `algorithm:hex` digest. */
  digest: string;
  /** Size in bytes. */
  size: number;
  /** Artifact type (descriptors in indexes and referrers). */
  artifactType?: string;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Platform (descriptors in indexes). */
  platform?: Platform;
}

/** An image platform, as in an index descriptor and an image config. */
export interface Platform {
  /** e.g. `linux`. */
  os: string;
  /** e.g. `amd64`, `arm64`. */
  architecture: string;
  /** e.g. `v8`. */
  variant?: string;
  /** e.g. `10.0.17763.1234` (Windows). */
  "os.version"?: string;
}

const encoder = new TextEncoder();

/**
 * Whether `value` is a {@link FileContent}.
 *
 * @example
 * ```ts
 * isFileContent({ file: "./layer.tar" }); // true
 * isFileContent("text");                  // false
 * ```
 */
export function isFileContent(value: unknown): value is FileContent {
  return typeof value === "object" && value !== null && "file" in value;
}

/**
 * The bytes of `content`.
 *
 * @example
 * ```ts
 * await toBytes("hello");                  // Uint8Array of 5 bytes
 * await toBytes({ file: "./layer.tar" });   // the file's bytes
 * ```
 */
export async function toBytes(content: Content): Promise<Uint8Array> {
  if (typeof content === "string") return encoder.encode(content);
  if (content instanceof Uint8Array) return content;
  if (content instanceof ArrayBuffer) return new Uint8Array(content);
  if (isFileContent(content)) return new Uint8Array(await readFile(content.file));
  return new Uint8Array(await content.arrayBuffer());
}

/**
 * The `sha256:<hex>` digest of bytes (or of a string's UTF-8 bytes).
 *
 * @example
 * ```ts
 * sha256(""); // "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 * ```
 */
export function sha256(bytes: Uint8Array | string): string {
  return digestOf(bytes, "sha256");
}

/**
 * The `algorithm:<hex>` digest of bytes (or of a string's UTF-8 bytes), for the two algorithms
 * of the OCI spec.
 *
 * @example
 * ```ts
 * digestOf("", "sha512"); // "sha512:cf83e1357eefb8bd…"
 * ```
 */
export function digestOf(
  bytes: Uint8Array | string,
  algorithm: "sha256" | "sha512" = "sha256",
): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/**
 * Parse an `os/architecture[/variant]` string (`"linux/arm64/v8"`) into a {@link Platform};
 * objects pass through.
 *
 * @example
 * ```ts
 * parsePlatform("linux/arm64/v8"); // { os: "linux", architecture: "arm64", variant: "v8" }
 * ```
 */
export function parsePlatform(platform: string | Platform): Platform {
  if (typeof platform !== "string") return platform;
  const [os, architecture, variant] = platform.split("/");
  if (!os || !architecture) {
    throw new TypeError(`platform must be os/architecture[/variant]: ${platform}`);
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}
