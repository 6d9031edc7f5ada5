/**
 * The on-disk layout of {@link fsStorage} and the only place that turns names into paths. Every
 * repository name, tag, digest and upload id is checked against the grammar here, again, before
 * a path is built (the handler checked it already; this is defence in depth), so no input can
 * name a file outside the root.
 *
 * ```
 * <root>/blobs/<alg>/<hex[0:2]>/<hex>                  blob content, stored once
 * <root>/repositories/<name>/_links/<alg>-<hex>        empty file: the repository links the blob
 * <root>/repositories/<name>/_manifests/<alg>-<hex>    manifest: one JSON line of metadata, then the bytes
 * <root>/repositories/<name>/_tags/<tag>               the tag's digest (upper case escaped as ^x)
 * <root>/repositories/<name>/_tags/.lock-<tag>         held while the tag changes (compare-and-swap)
 * <root>/repositories/<name>/_referrers/<alg>-<hex>/<alg>-<hex>   descriptor JSON, by subject
 * <root>/uploads/<id>/info.json                        session: repository, algorithm, createdAt
 * <root>/uploads/<id>/seg-<offset>                     the bytes of one acknowledged append
 * <root>/uploads/<id>/part-<random>                    an append in flight (never read)
 * <root>/tmp/<random>                                  files being written, renamed into place
 * ```
 * Name components never start with `_` or `.` (grammar), so they cannot collide with the
 * reserved `_links`, `_manifests`, `_tags` and `_referrers` directories.
 *
 * @module
 */
import { join, resolve, sep } from "node:path";
import { isValidName, isValidTag, parseDigest } from "../../grammar.ts";

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Repository directories remembered by {@link FsLayout.repository} before it starts over. */
const MAX_REMEMBERED = 1024;

/** Refuse a key that fails the grammar: a programming error in the caller, never a path. */
function invalid(kind: string, value: string): never {
  throw new TypeError(`fsStorage: refusing invalid ${kind} ${JSON.stringify(value)}`);
}

/** Checked paths under one root. */
export class FsLayout {
  /** The absolute root directory. */
  readonly root: string;
  /** Where temporary files are written before being renamed into place. */
  readonly tmp: string;
  /** Upload sessions. */
  readonly uploads: string;
  /** Repositories. */
  readonly repositories: string;
  /** Checked repository directories by name (a path is a pure function of the name). */
  readonly #repositoryDirs = new Map<string, string>();

  /** @param root The storage root (made absolute). */
  constructor(root: string) {
    this.root = resolve(root);
    this.tmp = join(this.root, "tmp");
    this.uploads = join(this.root, "uploads");
    this.repositories = join(this.root, "repositories");
  }

  /** Belt and braces: a built path must lie strictly inside the root. */
  #inside(path: string): string {
    if (!path.startsWith(this.root + sep)) invalid("path", path);
    return path;
  }

  /** `alg-hex`, the file name of a digest. */
  digestName(digest: string): string {
    const parsed = parseDigest(digest) ?? invalid("digest", digest);
    return `${parsed.algorithm}-${parsed.encoded}`;
  }

  /** The content file of blob `digest`. */
  blob(digest: string): string {
    const parsed = parseDigest(digest) ?? invalid("digest", digest);
    const { algorithm, encoded } = parsed;
    return this.#inside(join(this.root, "blobs", algorithm, encoded.slice(0, 2), encoded));
  }

  /**
   * The directory of `repository`. Remembered per name (the metadata paths of every manifest and
   * tag request start here); the paths below it are joined by concatenation, which equals
   * `path.join` because every component passed the grammar (no separators, no `.` or `..`).
   */
  repository(repository: string): string {
    let dir = this.#repositoryDirs.get(repository);
    if (dir === undefined) {
      if (!isValidName(repository)) invalid("repository name", repository);
      dir = this.#inside(join(this.repositories, ...repository.split("/")));
      if (this.#repositoryDirs.size >= MAX_REMEMBERED) this.#repositoryDirs.clear();
      this.#repositoryDirs.set(repository, dir);
    }
    return dir;
  }

  /** The link file of `digest` in `repository`. */
  link(repository: string, digest: string): string {
    return this.repository(repository) + sep + "_links" + sep + this.digestName(digest);
  }

  /** The manifests directory of `repository`. */
  manifests(repository: string): string {
    return this.repository(repository) + sep + "_manifests";
  }

  /** The file of manifest `digest` in `repository`. */
  manifest(repository: string, digest: string): string {
    return this.manifests(repository) + sep + this.digestName(digest);
  }

  /** The tags directory of `repository`. */
  tags(repository: string): string {
    return this.repository(repository) + sep + "_tags";
  }

  /** The file of `tag` in `repository`. */
  tag(repository: string, tag: string): string {
    return this.tags(repository) + sep + encodeTag(tag);
  }

  /** The lock file of `tag` in `repository`. */
  tagLock(repository: string, tag: string): string {
    return this.tags(repository) + sep + `.lock-${encodeTag(tag)}`;
  }

  /** The referrers directory of `subject` in `repository`. */
  referrers(repository: string, subject: string): string {
    return join(this.repository(repository), "_referrers", this.digestName(subject));
  }

  /** The referrers-index entry of manifest `digest` under `subject`. */
  referrer(repository: string, subject: string, digest: string): string {
    return join(this.referrers(repository, subject), this.digestName(digest));
  }

  /** The directory of upload session `id`. */
  upload(id: string): string {
    if (!UPLOAD_ID.test(id)) invalid("upload id", id);
    return this.#inside(join(this.uploads, id));
  }
}

/**
 * A tag as a file name that stays distinct on case-insensitive file systems: each upper-case
 * letter becomes `^` and the letter in lower case (`^` is not in the tag grammar).
 */
export function encodeTag(tag: string): string {
  if (!isValidTag(tag)) invalid("tag", tag);
  return /[A-Z]/.test(tag) ? tag.replace(/[A-Z]/g, (c) => `^${c.toLowerCase()}`) : tag;
}

/** The tag a file name stands for, or undefined for files that are no tag. */
export function decodeTag(name: string): string | undefined {
  if (name.startsWith(".")) return undefined;
  const tag = name.includes("^")
    ? name.replace(/\^([a-z])/g, (_, c: string) => c.toUpperCase())
    : name;
  return isValidTag(tag) ? tag : undefined;
}
