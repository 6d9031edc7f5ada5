/**
 * Manifest parsing and validation: what a PUT body must be, which blobs and manifests it
 * references, and what the referrers index lists for it.
 *
 * @module
 */
import { RegistryError } from "./errors.ts";
import { parseDigest } from "./grammar.ts";
import {
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  IMAGE_MANIFEST_TYPES,
  INDEX_TYPES,
  isNonDistributable,
} from "./media_types.ts";
import type { Descriptor } from "./storage/types.ts";

/** What the handler needs to know of a manifest it is about to store. */
export interface ParsedManifest {
  /** The media type the manifest is stored and served with. */
  mediaType: string;
  /** Blobs (config, layers) that must exist in the repository. */
  blobs: string[];
  /** Manifests (index children) that must exist in the repository unless sparse indexes are on. */
  manifests: string[];
  /** The subject's digest, if the manifest has one. */
  subject?: string;
  /** `artifactType` for the referrers index (the manifest's, else its config media type). */
  artifactType?: string;
  /** The manifest's annotations. */
  annotations?: Record<string, string>;
}

type Json = Record<string, unknown>;

function invalid(reason: string): RegistryError {
  return new RegistryError("MANIFEST_INVALID", { reason });
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function descriptor(value: unknown, where: string): { mediaType: string; digest: string } {
  if (!isObject(value)) throw invalid(`${where} is not a descriptor`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== "string" || mediaType === "") {
    throw invalid(`${where} has no mediaType`);
  }
  if (
    typeof digest !== "string" || !/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)
  ) {
    throw invalid(`${where} has an invalid digest`);
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where} has an invalid size`);
  }
  return { mediaType, digest };
}

function descriptors(value: unknown, where: string): Array<{ mediaType: string; digest: string }> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${where} is not an array`);
  return value.map((d, i) => descriptor(d, `${where}[${i}]`));
}

function annotations(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw invalid("annotations must map strings to strings");
  }
  return value as Record<string, string>;
}

/**
 * Parse and validate a manifest body pushed with `contentType` (parameters already stripped;
 * may be empty, then the body's `mediaType` decides). Throws MANIFEST_INVALID with the reason.
 */
export function parseManifest(bytes: Uint8Array, contentType: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw invalid("body is not valid UTF-8 JSON");
  }
  if (!isObject(json)) throw invalid("body is not a JSON object");
  const declared = json.mediaType;
  if (declared !== undefined && typeof declared !== "string") {
    throw invalid("mediaType is not a string");
  }
  const mediaType = contentType || declared || "";
  if (
    mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED || json.schemaVersion === 1
  ) {
    throw new RegistryError("MANIFEST_INVALID", {
      reason: "Docker schema1 manifests are obsolete and not accepted; push schema2 or OCI",
    }, { message: "schema1 manifests are not supported" });
  }
  if (declared !== undefined && declared !== mediaType) {
    throw invalid(`mediaType ${declared} contradicts Content-Type ${mediaType}`);
  }
  if (json.schemaVersion !== 2) throw invalid("schemaVersion must be 2");

  let subject: string | undefined;
  if (json.subject !== undefined && json.subject !== null) {
    subject = descriptor(json.subject, "subject").digest;
    if (!parseDigest(subject)) throw invalid("subject digest is not a supported digest");
  }
  const artifactType = json.artifactType;
  if (artifactType !== undefined && typeof artifactType !== "string") {
    throw invalid("artifactType is not a string");
  }
  const common = { mediaType, subject, annotations: annotations(json.annotations) };

  if (IMAGE_MANIFEST_TYPES.has(mediaType)) {
    const config = descriptor(json.config, "config");
    if (!Array.isArray(json.layers)) throw invalid("layers is not an array");
    const layers = descriptors(json.layers, "layers");
    const blobs = [config, ...layers.filter((l) => !isNonDistributable(l.mediaType))]
      .map((d) => d.digest);
    return {
      ...common,
      blobs,
      manifests: [],
      artifactType: artifactType ?? config.mediaType,
    };
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(json.manifests)) throw invalid("manifests is not an array");
    const children = descriptors(json.manifests, "manifests");
    return { ...common, blobs: [], manifests: children.map((d) => d.digest), artifactType };
  }
  if (mediaType === "") throw invalid("no Content-Type and no mediaType");
  throw invalid(`unsupported manifest media type ${mediaType}`);
}

/** The descriptor listed for a manifest in its subject's referrers index. */
export function referrerDescriptor(
  parsed: ParsedManifest,
  digest: string,
  size: number,
): Descriptor {
  const d: Descriptor = { mediaType: parsed.mediaType, digest, size };
  if (parsed.artifactType !== undefined) d.artifactType = parsed.artifactType;
  if (parsed.annotations !== undefined) d.annotations = parsed.annotations;
  return d;
}
