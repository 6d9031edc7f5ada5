/**
 * Byte-order sorting and paging of listings, shared by the storage adapters.
 *
 * @module
 */
import type { ListOptions, Page } from "./types.ts";

/** Compare two strings by UTF-16 code units (byte order for the ASCII names and tags). */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One page of `names` (in any order): sorted in byte order, strictly after `after`, at most
 * `limit` entries, with `more` telling whether entries remain.
 *
 * @example
 * ```ts
 * pageOf(["b", "a", "c"], { after: "a", limit: 1 }); // { items: ["b"], more: true }
 * ```
 */
export function pageOf(names: Iterable<string>, options: ListOptions): Page<string> {
  const { after, limit } = options;
  const rest: string[] = [];
  for (const name of names) if (after === undefined || name > after) rest.push(name);
  rest.sort(byteOrder);
  const n = Math.max(0, Math.floor(limit));
  return { items: rest.slice(0, n), more: rest.length > n };
}

/**
 * One page of `sorted` (already in byte order, without duplicates), like {@link pageOf} but
 * without copying or sorting the whole listing: a binary search finds the first entry after
 * `after`, so a page costs O(log n + limit).
 *
 * @example
 * ```ts
 * pageOfSorted(["a", "b", "c"], { after: "a", limit: 1 }); // { items: ["b"], more: true }
 * ```
 */
export function pageOfSorted(sorted: readonly string[], options: ListOptions): Page<string> {
  const { after, limit } = options;
  let lo = 0;
  if (after !== undefined) {
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] > after) hi = mid;
      else lo = mid + 1;
    }
  }
  const n = Math.max(0, Math.floor(limit));
  const end = Math.min(sorted.length, lo + n);
  return { items: sorted.slice(lo, end), more: end < sorted.length };
}
