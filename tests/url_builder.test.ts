import { suite } from "uvu";
import assert from "node:assert/strict";
import { createUrlBuilder } from "../lib/url_builder.ts";

const digest = `sha256:${"ab".repeat(32)}`;
const urls = suite("url builder");

urls("relative paths at the root", () => {
  const u = createUrlBuilder("");
  assert.equal(u.base(), "/v2/");
  assert.equal(u.blob("library/alpine", digest), `/v2/library/alpine/blobs/${digest}`);
  assert.equal(u.manifest("a", "latest"), "/v2/a/manifests/latest");
  assert.equal(u.manifest("a/b", digest), `/v2/a/b/manifests/${digest}`);
  assert.equal(u.upload("a/b/c", "xyz"), "/v2/a/b/c/blobs/uploads/xyz");
  assert.equal(u.referrers("a", digest), `/v2/a/referrers/${digest}`);
  assert.equal(u.tags("a"), "/v2/a/tags/list");
  assert.equal(u.catalog(), "/v2/_catalog");
});

urls("the default basePath is the root", () => {
  assert.equal(createUrlBuilder().base(), "/v2/");
  assert.equal(createUrlBuilder().tags("a", { n: 1 }), "/v2/a/tags/list?n=1");
});

urls("paging links: n then last, exactly as the spec's Link example", () => {
  const u = createUrlBuilder("");
  assert.equal(u.tags("a/b", { n: 2, last: "v1.0" }), "/v2/a/b/tags/list?n=2&last=v1.0");
  assert.equal(u.tags("a", { n: 10 }), "/v2/a/tags/list?n=10");
  assert.equal(u.tags("a", {}), "/v2/a/tags/list");
  assert.equal(u.catalog({ n: 5, last: "lib" }), "/v2/_catalog?n=5&last=lib");
});

urls("a last value with a slash survives a round trip through URL parsing", () => {
  const link = createUrlBuilder("").catalog({ n: 2, last: "a/b" });
  const url = new URL(link, "http://x");
  assert.equal(url.pathname, "/v2/_catalog");
  assert.equal(url.searchParams.get("n"), "2");
  assert.equal(url.searchParams.get("last"), "a/b");
});

urls("a mount prefix, with or without a trailing slash", () => {
  for (const basePath of ["/registry", "/registry/"]) {
    const u = createUrlBuilder(basePath);
    assert.equal(u.base(), "/registry/v2/");
    assert.equal(u.upload("a", "id"), "/registry/v2/a/blobs/uploads/id");
    assert.equal(u.blob("a", digest), `/registry/v2/a/blobs/${digest}`);
    assert.equal(u.manifest("a", "t"), "/registry/v2/a/manifests/t");
    assert.equal(u.tags("a", { n: 1, last: "t" }), "/registry/v2/a/tags/list?n=1&last=t");
    assert.equal(u.catalog({ n: 1 }), "/registry/v2/_catalog?n=1");
    assert.equal(u.referrers("a", digest), `/registry/v2/a/referrers/${digest}`);
  }
  assert.equal(createUrlBuilder("/deep/mount").base(), "/deep/mount/v2/");
});

urls.run();
