/**
 * The referrers API: an OCI index of every manifest in the repository whose subject is the given
 * digest, optionally filtered by `artifactType`. Never 404 for an unknown subject; 404 for every
 * subject when the registry does not serve the API (the storage lacks the referrers capability,
 * or the `referrers` option is off).
 *
 * @module
 */
import type { RequestContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { OCI_INDEX } from "../media_types.ts";
import { json } from "../responses.ts";
import { requireDigest } from "./params.ts";

/** GET `/v2/<name>/referrers/<digest>[?artifactType=]`. */
export async function listReferrers(ctx: RequestContext): Promise<Response> {
  if (!ctx.capabilities.referrers) {
    throw new RegistryError("UNSUPPORTED", null, {
      status: 404,
      message: "the referrers API is disabled on this registry",
    });
  }
  const { digest } = requireDigest(ctx.params.digest);
  let manifests = await ctx.storage.manifests.referrers!(ctx.name, digest);
  const artifactType = ctx.url.searchParams.get("artifactType");
  const headers: Record<string, string> = {};
  if (artifactType !== null) {
    manifests = manifests.filter((d) => d.artifactType === artifactType);
    headers["OCI-Filters-Applied"] = "artifactType";
  }
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
  return json(ctx.request, index, headers, OCI_INDEX);
}
