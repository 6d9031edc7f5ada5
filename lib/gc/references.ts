/**
 * What a stored manifest references, read leniently: the handler validated it at PUT, and a
 * collector must never fail (or keep less) because of a field it does not know.
 *
 * @module
 */

/** The digests a manifest references. */
export interface References {
  /** Blobs: config, layers, `blobs` of artifact manifests. */
  blobs: string[];
  /** Child manifests of an index. */
  manifests: string[];
  /** The subject's digest, if any. */
  subject?: string;
}

const decoder = new TextDecoder();

function digestsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const d of value) {
    const digest = (d as { digest?: unknown } | null)?.digest;
    if (typeof digest === "string") out.push(digest);
  }
  return out;
}

/**
 * The references of manifest `bytes`; none when they are not a JSON object.
 *
 * @example
 * ```ts
 * referencesOf(record.bytes); // { blobs: ["sha256:…config", "sha256:…layer"], manifests: [] }
 * ```
 */
export function referencesOf(bytes: Uint8Array): References {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    return { blobs: [], manifests: [] };
  }
  if (typeof json !== "object" || json === null) return { blobs: [], manifests: [] };
  const blobs = [
    ...digestsOf(json.config ? [json.config] : []),
    ...digestsOf(json.layers),
    ...digestsOf(json.blobs),
    // Docker schema 1: fsLayers[].blobSum.
    ...(Array.isArray(json.fsLayers)
      ? json.fsLayers.map((l) => (l as { blobSum?: unknown } | null)?.blobSum)
        .filter((d): d is string => typeof d === "string")
      : []),
  ];
  const subject = (json.subject as { digest?: unknown } | undefined)?.digest;
  return {
    blobs,
    manifests: digestsOf(json.manifests),
    ...(typeof subject === "string" ? { subject } : {}),
  };
}
