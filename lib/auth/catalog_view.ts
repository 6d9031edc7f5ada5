/**
 * A storage view whose repository listing shows only what the caller may pull, paged as the
 * underlying listing is: pages are filled from as many underlying pages as it takes.
 *
 * @module
 */
import type { ListOptions, Page, Storage } from "../storage/types.ts";

/**
 * `storage` with `repositories()` filtered by `visible`.
 *
 * @example
 * ```ts
 * const view = visibleRepositories(storage, (name) => name.startsWith("public/"));
 * await view.repositories({ limit: 10 });
 * ```
 */
export function visibleRepositories(
  storage: Storage,
  visible: (name: string) => boolean | Promise<boolean>,
): Storage {
  const list = storage.repositories?.bind(storage);
  if (!list) return storage; // no catalog capability: the catalog route answers 405 anyway
  const view: Storage = Object.create(storage);
  view.repositories = async (options: ListOptions): Promise<Page<string>> => {
    const items: string[] = [];
    let after = options.after;
    const batch = Math.min(Math.max(options.limit + 1, 100), 1000);
    for (;;) {
      const page = await list({ after, limit: batch });
      for (const name of page.items) {
        if (!(await visible(name))) continue;
        if (items.length === options.limit) return { items, more: true };
        items.push(name);
      }
      if (!page.more || page.items.length === 0) return { items, more: false };
      after = page.items[page.items.length - 1];
    }
  };
  return view;
}
