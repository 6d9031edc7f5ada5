/**
 * Validation of route and query parameters, shared by the routes. Each check throws the OCI
 * error the spec names, before storage is touched.
 *
 * @module
 */
import { RegistryError } from "../errors.ts";
import { isValidName, isValidTag, type ParsedDigest, parseDigest } from "../grammar.ts";

/** A parsed manifest reference. */
export type Reference = { tag: string; digest?: undefined } | { tag?: undefined; digest: string };

/** A digest the registry supports, else 400 DIGEST_INVALID. */
export function requireDigest(value: string | null | undefined): ParsedDigest & { digest: string } {
  const parsed = value ? parseDigest(value) : undefined;
  if (!parsed) {
    throw new RegistryError("DIGEST_INVALID", { digest: value ?? null }, {
      message: "invalid or unsupported digest",
    });
  }
  return { ...parsed, digest: value as string };
}

/** A valid repository name, else 400 NAME_INVALID. */
export function requireName(value: string | null | undefined): string {
  if (!value || !isValidName(value)) {
    throw new RegistryError("NAME_INVALID", { name: value ?? null });
  }
  return value;
}

/** A valid tag, else 400 TAG_INVALID. */
export function requireTag(value: string): string {
  if (!isValidTag(value)) {
    throw new RegistryError("TAG_INVALID", { tag: value }, {
      message: "invalid tag",
    });
  }
  return value;
}

/** A manifest reference: a digest (if it contains `:`) or a tag. */
export function requireReference(value: string): Reference {
  if (value.includes(":")) return { digest: requireDigest(value).digest };
  return { tag: requireTag(value) };
}

/** Paging parameters `n` and `last` of a listing. */
export interface Paging {
  /** Page size, if given. */
  n?: number;
  /** Start strictly after this entry. */
  last?: string;
}

/** `n` (a non-negative integer) and `last`, else 400 PAGINATION_NUMBER_INVALID. */
export function requirePaging(url: URL): Paging {
  const n = url.searchParams.get("n");
  const last = url.searchParams.get("last") ?? undefined;
  if (n === null || n === "") return { last };
  if (!/^\d{1,9}$/.test(n)) {
    throw new RegistryError("PAGINATION_NUMBER_INVALID", { n });
  }
  return { n: Number(n), last };
}
