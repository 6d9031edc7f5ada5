/**
 * The protocol suite, discovery: referrers, the tags list and the catalog.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Client, expectError, expectStatus, pushBlob, pushManifest } from "../support/http.ts";
import {
  describe,
  digestOf,
  EMPTY_JSON,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  ociManifest,
  utf8,
} from "../support/oci.ts";
import {
  ANNOTATION_KEY,
  linkTarget,
  pushImage,
  pushImageBlobs,
  referrerSetup,
  referrersOf,
  type SuiteContext,
  typeA,
  typeB,
  typeIndex,
} from "./helpers.ts";

/** Register the tests of discovery: referrers, the tags list and the catalog. */
export function discoveryTests({ fresh, group }: SuiteContext): void {
  // ───────────────────────────── referrers ─────────────────────────────
  const referrers = group("referrers");

  referrers(
    "listing: every referrer with mediaType, digest, size, artifactType and annotations",
    async () => {
      const { c } = await fresh();
      const r = await referrerSetup(c, "a");
      const { res, index } = await referrersOf(c, "a", r.subject.manifest.digest);
      assert.equal(
        res.headers.get("OCI-Filters-Applied"),
        null,
        "no filter, no OCI-Filters-Applied",
      );
      const expected = [
        [r.aConfig, OCI_MANIFEST, typeA, "test config a"],
        [r.aLayer, OCI_MANIFEST, typeA, "test layer a"],
        [r.index, OCI_INDEX, typeIndex, "test index"],
        [r.bConfig, OCI_MANIFEST, typeB, "test config b"],
        [r.bLayer, OCI_MANIFEST, typeB, "test layer b"],
      ] as const;
      assert.equal(index.manifests.length, 5);
      for (const [m, mediaType, artifactType, annotation] of expected) {
        const entry = index.manifests.find((d) => d.digest === m.digest);
        assert.ok(entry, `referrer ${m.digest} listed`);
        assert.equal(entry.mediaType, mediaType);
        assert.equal(entry.size, m.size);
        assert.equal(entry.artifactType, artifactType);
        assert.deepEqual(entry.annotations, { [ANNOTATION_KEY]: annotation });
      }
    },
  );

  referrers("?artifactType= filters and answers OCI-Filters-Applied: artifactType", async () => {
    const { c } = await fresh();
    const r = await referrerSetup(c, "a");
    const { res, index } = await referrersOf(
      c,
      "a",
      r.subject.manifest.digest,
      `?artifactType=${encodeURIComponent(typeA)}`,
    );
    assert.equal(res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.deepEqual(
      index.manifests.map((d) => d.digest).sort(),
      [r.aConfig.digest, r.aLayer.digest].sort(),
    );
    for (const d of index.manifests) {
      assert.equal(d.annotations?.[ANNOTATION_KEY]?.endsWith(" a"), true);
    }
    const none = await referrersOf(
      c,
      "a",
      r.subject.manifest.digest,
      "?artifactType=application/x-none",
    );
    assert.equal(none.res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.equal(none.index.manifests.length, 0);
  });

  referrers("an artifactType with + and / is matched after URL decoding", async () => {
    const { c } = await fresh();
    await pushBlob(c, "a", EMPTY_JSON);
    const subject = await pushImage(c, "a", "plus-subject", "v1");
    const type = "application/vnd.example.sbom.v1+json";
    const sbom = ociManifest({
      artifactType: type,
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers: [describe(OCI_EMPTY, EMPTY_JSON)],
      subject: subject.manifest.descriptor,
    });
    const other = ociManifest({
      artifactType: "application/vnd.example.sbom.v1",
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers: [describe(OCI_EMPTY, EMPTY_JSON)],
      subject: subject.manifest.descriptor,
    });
    await pushManifest(c, "a", sbom);
    await pushManifest(c, "a", other);
    const q = `?artifactType=${encodeURIComponent(type)}`;
    const { res, index } = await referrersOf(c, "a", subject.manifest.digest, q);
    assert.equal(res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.deepEqual(index.manifests.map((d) => d.digest), [sbom.digest]);
  });

  referrers(
    "a subject that was never pushed lists its dangling referrer; an unknown digest an empty index",
    async () => {
      const { c } = await fresh();
      const r = await referrerSetup(c, "a");
      const ghost = await referrersOf(c, "a", r.ghost.manifest.digest);
      assert.deepEqual(ghost.index.manifests.map((d) => d.digest), [r.cLayer.digest]);
      const empty = await referrersOf(c, "a", digestOf(utf8("hello world")));
      assert.equal(empty.index.manifests.length, 0);
      const unknownRepo = await referrersOf(c, "never/seen", digestOf(utf8("hello world")));
      assert.equal(unknownRepo.index.manifests.length, 0);
    },
  );

  referrers(
    "deleting a referrer removes it from the index; referrers are per repository",
    async () => {
      const { c } = await fresh();
      const r = await referrerSetup(c, "a");
      expectStatus(await c.call("DELETE", `/v2/a/manifests/${r.bLayer.digest}`), 202);
      const { index } = await referrersOf(c, "a", r.subject.manifest.digest);
      assert.equal(index.manifests.length, 4);
      assert.ok(!index.manifests.some((d) => d.digest === r.bLayer.digest));
      const other = await referrersOf(c, "b", r.subject.manifest.digest);
      assert.equal(other.index.manifests.length, 0, "repository b has no referrers");
    },
  );

  referrers("a referrer pushed by tag is indexed too; a sha512 subject digest works", async () => {
    const { c } = await fresh();
    await pushBlob(c, "a", EMPTY_JSON);
    const subject = await pushImage(c, "a", "tagged-subject", "v1");
    const sig = ociManifest({
      artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
      config: describe(OCI_EMPTY, EMPTY_JSON),
      layers: [describe(OCI_EMPTY, EMPTY_JSON)],
      subject: subject.manifest.descriptor,
    });
    await pushManifest(c, "a", sig, "sha256-signature");
    const { index } = await referrersOf(c, "a", subject.manifest.digest);
    assert.deepEqual(index.manifests.map((d) => d.digest), [sig.digest]);
    assert.equal(
      index.manifests[0].artifactType,
      "application/vnd.dev.cosign.artifact.sig.v1+json",
    );
    const d512 = digestOf(utf8("x"), "sha512");
    assert.equal((await referrersOf(c, "a", d512)).index.manifests.length, 0);
  });

  referrers("a malformed digest on the referrers API is 400 DIGEST_INVALID", async () => {
    const { c } = await fresh();
    expectError(await c.call("GET", "/v2/a/referrers/sha256:nothex"), 400, "DIGEST_INVALID");
    expectError(await c.call("GET", "/v2/a/referrers/latest"), 400, "DIGEST_INVALID");
  });

  referrers.run();

  // ───────────────────────────── tags and catalog ─────────────────────────────
  const listing = group("tags list and catalog");

  async function tagged(c: Client, name: string, tags: string[]): Promise<void> {
    const { manifest } = await pushImageBlobs(c, name, `tags-${name}`);
    for (const tag of tags) await pushManifest(c, name, manifest, tag);
  }

  listing("tags are sorted in byte order with the repository name", async () => {
    const { c } = await fresh();
    await tagged(c, "lib/x", ["latest", "a", "_x", "B", "9", "10"]);
    const res = await c.call("GET", "/v2/lib/x/tags/list");
    expectStatus(res, 200);
    assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
    assert.deepEqual(res.json(), { name: "lib/x", tags: ["10", "9", "B", "_x", "a", "latest"] });
    assert.equal(res.headers.get("Link"), null, "no Link without n");
  });

  listing(
    'paging with n and last, Link exactly </v2/<name>/tags/list?n=<n>&last=<tag>>; rel="next"',
    async () => {
      const { c } = await fresh();
      await tagged(c, "lib/x", ["latest", "a", "_x", "B", "9", "10"]);
      const pages: string[][] = [];
      let path: string | undefined = "/v2/lib/x/tags/list?n=2";
      const links: (string | null)[] = [];
      while (path) {
        const res = await c.call("GET", path);
        expectStatus(res, 200);
        pages.push((res.json() as { tags: string[] }).tags);
        links.push(res.headers.get("Link"));
        path = linkTarget(res);
        assert.ok(pages.length < 10, "paging terminates");
      }
      assert.deepEqual(pages, [["10", "9"], ["B", "_x"], ["a", "latest"]]);
      assert.deepEqual(links, [
        '</v2/lib/x/tags/list?n=2&last=9>; rel="next"',
        '</v2/lib/x/tags/list?n=2&last=_x>; rel="next"',
        null,
      ]);
    },
  );

  listing(
    "tag paging edge cases: n=0, n beyond the end, last past the end, last between tags",
    async () => {
      const { c } = await fresh();
      await tagged(c, "a", ["test0", "test1", "test2", "test3"]);
      const zero = await c.call("GET", "/v2/a/tags/list?n=0");
      expectStatus(zero, 200);
      assert.deepEqual((zero.json() as { tags: string[] }).tags ?? [], []);
      assert.equal(zero.headers.get("Link"), null, "n=0: no Link");
      const many = await c.call("GET", "/v2/a/tags/list?n=100");
      assert.deepEqual((many.json() as { tags: string[] }).tags, [
        "test0",
        "test1",
        "test2",
        "test3",
      ]);
      assert.equal(many.headers.get("Link"), null);
      const exact = await c.call("GET", "/v2/a/tags/list?n=4");
      assert.equal((exact.json() as { tags: string[] }).tags.length, 4);
      assert.equal(exact.headers.get("Link"), null, "no Link when nothing remains");
      const past = await c.call("GET", "/v2/a/tags/list?last=zzz");
      expectStatus(past, 200);
      assert.deepEqual((past.json() as { tags: string[] }).tags ?? [], []);
      const pastN = await c.call("GET", "/v2/a/tags/list?n=2&last=test3");
      assert.deepEqual((pastN.json() as { tags: string[] }).tags ?? [], []);
      assert.equal(pastN.headers.get("Link"), null);
      const between = await c.call("GET", "/v2/a/tags/list?n=2&last=test0a");
      assert.deepEqual((between.json() as { tags: string[] }).tags, ["test1", "test2"]);
      const half = await c.call("GET", "/v2/a/tags/list?n=2&last=test1");
      assert.deepEqual((half.json() as { tags: string[] }).tags, ["test2", "test3"]);
    },
  );

  listing("malformed n is 400, never 500", async () => {
    const { c } = await fresh();
    await tagged(c, "a", ["v1"]);
    for (const n of ["abc", "-1", "1.5"]) {
      const res = await c.call("GET", `/v2/a/tags/list?n=${n}`);
      expectError(res, 400, ["PAGINATION_NUMBER_INVALID", "UNSUPPORTED"]);
    }
    expectError(await c.call("GET", "/v2/_catalog?n=abc"), 400, [
      "PAGINATION_NUMBER_INVALID",
      "UNSUPPORTED",
    ]);
  });

  listing(
    "unknown repository: tags list 404 NAME_UNKNOWN; blobs alone do not make a repository known",
    async () => {
      const { c } = await fresh();
      expectError(await c.call("GET", "/v2/nobody/tags/list"), 404, "NAME_UNKNOWN");
      await pushBlob(c, "blobsonly", utf8("x"));
      expectError(await c.call("GET", "/v2/blobsonly/tags/list"), 404, "NAME_UNKNOWN");
      const untagged = await pushImageBlobs(c, "untagged", "u");
      await pushManifest(c, "untagged", untagged.manifest);
      const res = await c.call("GET", "/v2/untagged/tags/list");
      expectStatus(res, 200);
      assert.deepEqual((res.json() as { tags: string[] | null }).tags ?? [], []);
    },
  );

  listing("catalog lists repositories in byte order with n, last and Link", async () => {
    const { c } = await fresh();
    for (const name of ["c", "a/x", "b", "a", "a_b", "a-b", "a.b"]) await tagged(c, name, ["v1"]);
    const all = await c.call("GET", "/v2/_catalog");
    expectStatus(all, 200);
    assert.deepEqual(all.json(), { repositories: ["a", "a-b", "a.b", "a/x", "a_b", "b", "c"] });
    const pages: string[][] = [];
    const lasts: (string | null)[] = [];
    let path: string | undefined = "/v2/_catalog?n=2";
    while (path) {
      const res = await c.call("GET", path);
      expectStatus(res, 200);
      pages.push((res.json() as { repositories: string[] }).repositories);
      const next = linkTarget(res);
      if (next === undefined) break;
      const nextUrl = new URL(next, "http://x");
      assert.equal(nextUrl.pathname, "/v2/_catalog");
      assert.equal(nextUrl.searchParams.get("n"), "2");
      lasts.push(nextUrl.searchParams.get("last"));
      path = nextUrl.pathname + nextUrl.search;
      assert.ok(pages.length < 10, "paging terminates");
    }
    assert.deepEqual(pages, [["a", "a-b"], ["a.b", "a/x"], ["a_b", "b"], ["c"]]);
    assert.deepEqual(lasts, ["a-b", "a/x", "b"]);
    const zero = await c.call("GET", "/v2/_catalog?n=0");
    assert.deepEqual((zero.json() as { repositories: string[] }).repositories ?? [], []);
    assert.equal(zero.headers.get("Link"), null);
    const past = await c.call("GET", "/v2/_catalog?last=zzz");
    assert.deepEqual((past.json() as { repositories: string[] }).repositories ?? [], []);
  });

  listing.run();
}
