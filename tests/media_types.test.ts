/**
 * The one set of media-type constants (lib/media_types.ts, and the testing toolkit's MEDIA_TYPES
 * and the test fixtures built on it) pinned to the strings of the OCI image spec and Docker's
 * registry docs: the suites use these constants, so a typo here would otherwise agree with itself.
 *
 * @module
 */
import assert from "node:assert/strict";
import { suite } from "uvu";
import * as core from "../lib/media_types.ts";
import { digestOf, MEDIA_TYPES, sha256 } from "../lib/testing/mod.ts";
import * as fixtures from "./support/oci.ts";

const test = suite("media types and digests");

const SPEC: [string, string, string][] = [
  ["core OCI_MANIFEST", core.OCI_MANIFEST, "application/vnd.oci.image.manifest.v1+json"],
  ["core OCI_INDEX", core.OCI_INDEX, "application/vnd.oci.image.index.v1+json"],
  ["core OCI_EMPTY", core.OCI_EMPTY, "application/vnd.oci.empty.v1+json"],
  [
    "core DOCKER_MANIFEST",
    core.DOCKER_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
  ],
  [
    "core DOCKER_MANIFEST_LIST",
    core.DOCKER_MANIFEST_LIST,
    "application/vnd.docker.distribution.manifest.list.v2+json",
  ],
  [
    "core DOCKER_SCHEMA1",
    core.DOCKER_SCHEMA1,
    "application/vnd.docker.distribution.manifest.v1+json",
  ],
  [
    "core DOCKER_SCHEMA1_SIGNED",
    core.DOCKER_SCHEMA1_SIGNED,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
  ],
  ["MEDIA_TYPES.config", MEDIA_TYPES.config, "application/vnd.oci.image.config.v1+json"],
  ["MEDIA_TYPES.layer", MEDIA_TYPES.layer, "application/vnd.oci.image.layer.v1.tar"],
  [
    "MEDIA_TYPES.layerGzip",
    MEDIA_TYPES.layerGzip,
    "application/vnd.oci.image.layer.v1.tar+gzip",
  ],
  [
    "MEDIA_TYPES.dockerConfig",
    MEDIA_TYPES.dockerConfig,
    "application/vnd.docker.container.image.v1+json",
  ],
  [
    "MEDIA_TYPES.dockerLayer",
    MEDIA_TYPES.dockerLayer,
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
  ],
];

test("the shared media-type constants are the spec's strings", () => {
  for (const [name, actual, expected] of SPEC) assert.equal(actual, expected, name);
});

test("the toolkit and the fixtures use the core constants, not copies", () => {
  assert.equal(MEDIA_TYPES.manifest, core.OCI_MANIFEST);
  assert.equal(MEDIA_TYPES.index, core.OCI_INDEX);
  assert.equal(MEDIA_TYPES.empty, core.OCI_EMPTY);
  assert.equal(MEDIA_TYPES.dockerManifest, core.DOCKER_MANIFEST);
  assert.equal(MEDIA_TYPES.dockerManifestList, core.DOCKER_MANIFEST_LIST);
  assert.equal(fixtures.OCI_MANIFEST, core.OCI_MANIFEST);
  assert.equal(fixtures.DOCKER_LIST, core.DOCKER_MANIFEST_LIST);
  assert.equal(fixtures.OCI_CONFIG, MEDIA_TYPES.config);
  assert.equal(fixtures.OCI_LAYER, MEDIA_TYPES.layerGzip);
  assert.equal(fixtures.digestOf, digestOf);
});

test("digestOf and sha256 answer the known digests of '' and '{}'", () => {
  const empty = new Uint8Array(0);
  assert.equal(
    sha256(empty),
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(digestOf(empty), sha256(empty));
  assert.equal(sha256("{}"), fixtures.EMPTY_JSON_DIGEST);
  assert.equal(
    digestOf("", "sha512"),
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
      "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
  );
});

test.run();
