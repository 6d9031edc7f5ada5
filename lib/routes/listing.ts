/**
 * Listing routes: tags of a repository and the catalog of repositories, both sorted in byte
 * order and paged with `n` and `last`, with a `Link: <...>; rel="next"` header when more remain.
 *
 * @module
 */
import type { RequestContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { json } from "../responses.ts";
import type { Page } from "../storage/types.ts";
import { type Paging, requirePaging } from "./params.ts";

/** Everything when the client gives no `n`. */
const ALL = Number.MAX_SAFE_INTEGER;

function linkHeaders(
  page: Page<string>,
  paging: Paging,
  link: (last: string) => string,
): Record<string, string> {
  const last = page.items.at(-1);
  if (!page.more || paging.n === undefined || last === undefined) return {};
  return { Link: `<${link(last)}>; rel="next"` };
}

/** GET `/v2/<name>/tags/list`. */
export async function listTags(ctx: RequestContext): Promise<Response> {
  const paging = requirePaging(ctx.url);
  const { name } = ctx;
  const page = await ctx.storage.tags.list(name, { after: paging.last, limit: paging.n ?? ALL });
  if (!page) throw new RegistryError("NAME_UNKNOWN", { name });
  const link = (last: string) => ctx.urls.tags(name, { n: paging.n, last });
  return json(ctx.request, { name, tags: page.items }, linkHeaders(page, paging, link));
}

/** GET `/v2/_catalog`. Dispatched only when the storage provides the catalog capability. */
export async function listCatalog(ctx: RequestContext): Promise<Response> {
  const paging = requirePaging(ctx.url);
  const page = await ctx.storage.repositories!({ after: paging.last, limit: paging.n ?? ALL });
  const link = (last: string) => ctx.urls.catalog({ n: paging.n, last });
  return json(ctx.request, { repositories: page.items }, linkHeaders(page, paging, link));
}
