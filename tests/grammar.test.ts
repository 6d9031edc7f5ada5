import { suite } from "uvu";
import assert from "node:assert/strict";
import { isValidName, isValidTag, parseDigest } from "../lib/grammar.ts";

const names = suite("grammar: repository names");

names("accepts the OCI name grammar", () => {
  for (
    const name of [
      "a",
      "0",
      "library/alpine",
      "a/b/c/d/e",
      "a.b",
      "a_b",
      "a__b",
      "a-b",
      "a---b",
      "manifests",
      "blobs",
      "x/blobs/uploads",
      "a1.b2_c3__d4-e5",
      `${"a".repeat(100)}/${"b".repeat(100)}`,
    ]
  ) {
    assert.equal(isValidName(name), true, name);
  }
});

names("refuses everything else", () => {
  for (
    const name of [
      "",
      "A",
      "library/Alpine",
      "a..b",
      "a/..",
      "..",
      "a/../b",
      "a//b",
      "/a",
      "a/",
      "-a",
      "a-",
      ".a",
      "a.",
      "_a",
      "a_",
      "a___b",
      "a._b",
      "a.-b",
      "a b",
      "a:b",
      "a@b",
      "ünï",
      "a\nb",
      "a".repeat(256),
      `${"a".repeat(200)}/${"b".repeat(60)}`,
    ]
  ) {
    assert.equal(isValidName(name), false, JSON.stringify(name));
  }
});

names.run();

const tags = suite("grammar: tags");

tags("accepts [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", () => {
  for (
    const tag of [
      "latest",
      "v1.0.0",
      "A",
      "_",
      "_x",
      "1",
      "a-b_c.d",
      "X".repeat(128),
      "sha256-abc.sig",
    ]
  ) {
    assert.equal(isValidTag(tag), true, tag);
  }
});

tags("refuses everything else", () => {
  for (
    const tag of [
      "",
      ".x",
      "-x",
      "a".repeat(129),
      "a/b",
      "a:b",
      "a+b",
      "a b",
      "ü",
      "sha256:" + "a".repeat(64),
      ".INVALID_MANIFEST_NAME",
    ]
  ) {
    assert.equal(isValidTag(tag), false, JSON.stringify(tag));
  }
});

tags.run();

const digests = suite("grammar: digests");
const hex64 = "0123456789abcdef".repeat(4);
const hex128 = hex64 + hex64;

digests("parses sha256 and sha512", () => {
  assert.deepEqual(parseDigest(`sha256:${hex64}`), { algorithm: "sha256", encoded: hex64 });
  assert.deepEqual(parseDigest(`sha512:${hex128}`), { algorithm: "sha512", encoded: hex128 });
});

digests("malformed or unsupported digests are undefined", () => {
  for (
    const digest of [
      "",
      "sha256",
      "sha256:",
      `:${hex64}`,
      `sha256:${hex64.slice(1)}`,
      `sha256:${hex64}0`,
      `sha256:${hex64.toUpperCase()}`,
      `SHA256:${hex64}`,
      `sha256:${"g".repeat(64)}`,
      `sha512:${hex64}`,
      `sha256:${hex128}`,
      `sha384:${"a".repeat(96)}`,
      "md5:d41d8cd98f00b204e9800998ecf8427e",
      `sha256:${hex64} `,
      ` sha256:${hex64}`,
      `sha256::${hex64}`,
      "sha256:totallywrong",
      "latest",
    ]
  ) {
    assert.equal(parseDigest(digest), undefined, JSON.stringify(digest));
  }
});

digests.run();
