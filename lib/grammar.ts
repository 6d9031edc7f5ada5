/**
 * The OCI grammar: repository names, tags and digests. Checked before any storage call.
 *
 * @module
 */

const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Longest repository name accepted (the spec's 255 for `host/name`, minus a short host). */
export const MAX_NAME_LENGTH = 255;

/** Digest algorithms the registry computes, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/**
 * Whether `name` is a valid repository name.
 *
 * @example
 * ```ts
 * isValidName("library/alpine"); // true
 * isValidName("Library/../x");   // false
 * ```
 */
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

/**
 * Whether `tag` is a valid tag.
 *
 * @example
 * ```ts
 * isValidTag("v1.0.0"); // true
 * isValidTag(".hidden"); // false
 * ```
 */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** A parsed digest. */
export interface ParsedDigest {
  /** `sha256` or `sha512`. */
  algorithm: string;
  /** Lower-case hex encoding. */
  encoded: string;
}

/**
 * Parse a digest the registry supports (sha256 or sha512 with lower-case hex of the right
 * length). Anything else, well-formed or not, answers `undefined`.
 *
 * @example
 * ```ts
 * parseDigest("sha256:" + "a".repeat(64)); // { algorithm: "sha256", encoded: "aaa…" }
 * parseDigest("md5:abc");                  // undefined
 * ```
 */
export function parseDigest(digest: string): ParsedDigest | undefined {
  const m = DIGEST_RE.exec(digest);
  if (!m) return undefined;
  const length = DIGEST_ALGORITHMS[m[1]];
  if (length === undefined || m[2].length !== length || !/^[a-f0-9]+$/.test(m[2])) {
    return undefined;
  }
  return { algorithm: m[1], encoded: m[2] };
}

/** Whether a reference is a digest (contains `:`) rather than a tag. */
export function isDigestReference(reference: string): boolean {
  return reference.includes(":");
}
