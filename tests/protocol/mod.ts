/**
 * The HTTP protocol suite: every endpoint, header and error of ../shared/SPEC.md (the OCI
 * Distribution Spec v1.1.1 plus what its main branch and real clients add), driven through
 * `createRegistry({ storage }).fetch(new Request(...))` with no sockets. Every storage adapter runs
 * it unchanged: `protocolSuite("fs", () => fsStorage(dir))`. One file per spec area: pull, push
 * (uploads, sessions, digests, mounts, manifests), discovery, management, errors, options, and the
 * conformance workflows.
 *
 * Written from the spec, not from the implementation: a failing test here means the handler (or
 * the adapter) is wrong.
 *
 * Map of the OCI conformance suite (opencontainers/distribution-spec v1.1.1, conformance/) to the
 * tests below. Where the conformance suite accepts alternatives (e.g. 201 or 202, 400 or 404),
 * the "conformance:" tests accept the same alternatives and the topical tests assert what SPEC.md
 * requires (the stricter answer).
 *
 * 01_pull_test.go
 *   Setup: POST then PUT ?digest= config/layer blobs; PUT manifest by tag and by digest
 *     → "conformance: pull workflow", "uploads: POST then monolithic PUT", "manifests: PUT by digest"
 *   HEAD/GET nonexistent blob → 404; HEAD/GET existing blob → 200 + Docker-Content-Digest
 *     → "conformance: pull workflow", "blobs: HEAD and GET headers", "blobs: unknown blob"
 *   HEAD/GET nonexistent manifest (".INVALID_MANIFEST_NAME") → 404
 *     → "conformance: pull workflow", "manifests: invalid tag on GET/HEAD is 404"
 *   HEAD/GET manifest by digest and by tag (Accept: OCI manifest) → 200 + Docker-Content-Digest
 *     → "conformance: pull workflow", "manifests: exact bytes and headers on GET and HEAD"
 *   Error codes: GET/PUT manifests/sha256:totallywrong → 400 (OCI code) or 404
 *     → "conformance: pull workflow", "grammar: malformed digests are 400 DIGEST_INVALID everywhere"
 *   Teardown: DELETE manifests by digest (2xx/405), blobs (2xx/404/405)
 *     → "conformance: pull workflow", "delete: ..." tests
 * 02_push_test.go
 *   Setup: push `{}` (sha256:44136fa…) and a reference blob → "blobs: the {} blob", "conformance: push"
 *   Blob Upload Streamed: POST, PATCH body without Content-Range → 202; PUT ?digest= with no body
 *     → 201 + Location → "uploads: streamed PATCH then PUT without body", "conformance: push workflow"
 *   Blob Upload Monolithic: GET nonexistent → 404; POST ?digest= with body → 201/202 + Location,
 *     then GET 200 (or 404 after 202); POST → 202; PUT with body → 201 + Location; GET 200; layer
 *     → "uploads: single POST with ?digest=", "uploads: POST then monolithic PUT"
 *   Blob Upload Chunked: POST (Content-Length: 0); out-of-order PATCH → 416; PATCH chunk 1 → 202,
 *     Range 0-<n>; retry chunk 1 on the first Location → 416; GET on that Location → 204 + Location
 *     + Range; PATCH chunk 2 on the GET's Location → 202 + Range 0-<last>; PUT ?digest= → 201
 *     → "uploads: out-of-order chunk recovery", "conformance: push workflow"
 *   OCI-Chunk-Min-Length honoured if sent → "uploads: POST answers 202 with Location, Range, UUID"
 *   Cross-Repository Blob Mount: mount without from → 202 + Location; mount with from → 201 with
 *     Location exactly /v2/<other>/blobs/<digest> (or 202 with /v2/<other>/blobs/uploads/ prefix),
 *     then GET 200 → "mounts: ..." tests, "conformance: push workflow"
 *   Manifest Upload: GET nonexistent → 404; PUT to test0..test3 → 201 + Location; manifest with no
 *     layers and no mediaType field → 201; GET by digest → 200; config/mediaType as artifact type,
 *     artifactType with empty config, index and nested index with artifactType + annotations,
 *     dangling subject → 2xx + OCI-Subject (one stored revision checks it against the regexp
 *     ^[a-f0-9]+:[a-f0-9]+$, which no "sha256:…" value can match; we assert equality instead)
 *     → "manifests: ..." tests, "referrers: ..." tests, "conformance: push workflow"
 *   Teardown: DELETE manifests (2xx/405), blobs (2xx/404/405) → "conformance: push workflow"
 * 03_discovery_test.go
 *   Setup: four tags test0..test3 on one manifest; referrers A-config (config.mediaType = type A),
 *     A-layer (artifactType A, empty config), an index with subject + artifactType, all pushed
 *     BEFORE their subject, then the subject, then B-config, B-layer, and C-layer on a subject that
 *     never exists; each PUT answers OCI-Subject = subject digest
 *     → "conformance: discovery workflow", "referrers: listing with artifactType and annotations"
 *   Tags: GET list → 200; ?n=<half> → exactly n; ?n=&last= → ≤ n → "tags: ..." tests
 *   Referrers: unknown digest → 200, Content-Type application/vnd.oci.image.index.v1+json, 0
 *     manifests; subject → 5 entries, each with exactly its one annotation; ?artifactType=A → 2 and
 *     OCI-Filters-Applied: artifactType; never-pushed subject → the 1 dangling referrer
 *     → "referrers: ..." tests, "conformance: discovery workflow"
 *   Teardown: DELETE every manifest by digest (and the tag via the digest route) → 2xx/405/404
 * 04_management_test.go
 *   DELETE by tag → 202 (or 400 UNSUPPORTED / 405); DELETE by digest → 202/404; GET deleted → 404;
 *   tags list shrinks; DELETE config/layer blobs → 202/404/405; GET deleted blob → 404
 *     → "delete: ..." tests, "conformance: management workflow"
 * setup.go: the fixtures (configs with "data" and unknown descriptor fields, a manifest without a
 *   mediaType field, the gzip layer, 42-byte random blobs split in two chunks) → "manifests: unknown
 *   fields and the data field are accepted", "conformance: ..." tests.
 *
 * Choices where SPEC.md leaves room, following distribution: missing index/list children are
 * 400 MANIFEST_BLOB_UNKNOWN (the spec's message for it is "manifest references a manifest or blob
 * unknown to registry"; distribution answers the same), accepted with sparseIndexes; a mount with a
 * malformed digest or `from` may fall back to a 202 session (distribution ignores both) or be a
 * 400; a tag outside the grammar is 404 on GET/HEAD (the conformance suite requires it) and 400
 * (TAG_INVALID or MANIFEST_INVALID) on PUT; malformed `n` is 400 PAGINATION_NUMBER_INVALID.
 *
 * Beyond the conformance suite (SPEC.md, issue 2): the six range cases on a 2048-byte blob, ETag,
 * If-None-Match, Accept-Ranges, every bad-digest variant leaving nothing visible, sha512, cancel,
 * session bound to its repository, per-repository visibility, 4 MiB manifest limit, Docker schema 2
 * and manifest lists, schema 1 refused, sparse indexes, multi-tag PUT with OCI-Tag, tag and catalog
 * paging with Link, every option, name grammar, 405s, unknown query parameters, odd repository
 * names.
 *
 * @module
 */
import { suite } from "uvu";
import { createRegistry, type Registry, type RegistryOptions } from "../../lib/registry.ts";
import { client } from "../support/http.ts";
import { conformanceTests } from "./conformance.ts";
import { discoveryTests } from "./discovery.ts";
import { errorTests } from "./errors.ts";
import type { StorageFactory, SuiteContext } from "./helpers.ts";
import { managementTests } from "./management.ts";
import { optionTests } from "./options.ts";
import { pullTests } from "./pull.ts";
import { badDigestTests } from "./push_digests.ts";
import { manifestKindTests } from "./push_manifest_kinds.ts";
import { manifestTests } from "./push_manifests.ts";
import { mountTests } from "./push_mounts.ts";
import { sessionTests } from "./push_sessions.ts";
import { uploadTests } from "./push_uploads.ts";

export type { StorageFactory } from "./helpers.ts";

/**
 * Register and run the protocol suite against storages made by `makeStorage`, through registries
 * made by `makeRegistry` (default `createRegistry`; wrappers such as `withMetrics` pass their own).
 *
 * @example
 * ```ts
 * protocolSuite("memory", () => memoryStorage());
 * ```
 */
export function protocolSuite(
  label: string,
  makeStorage: StorageFactory,
  makeRegistry: (options: RegistryOptions) => Registry = createRegistry,
): void {
  const context: SuiteContext = {
    async fresh(options = {}) {
      const storage = await makeStorage();
      const registry = makeRegistry({ ...options, storage });
      return { c: client(registry), storage };
    },
    group: (title) => suite(`${label} protocol: ${title}`),
    makeStorage,
  };
  for (
    const area of [
      pullTests,
      uploadTests,
      sessionTests,
      badDigestTests,
      mountTests,
      manifestTests,
      manifestKindTests,
      discoveryTests,
      managementTests,
      optionTests,
      errorTests,
      conformanceTests,
    ]
  ) {
    area(context);
  }
}
