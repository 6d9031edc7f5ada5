/**
 * Which optional capabilities of the storage contract an adapter provides, found from the
 * members it has. (Stand-in with the shape of lib/storage/capabilities.ts `capabilitiesOf`; the
 * registry's own module replaces it.)
 *
 * @module
 */
import type { BlobStore, ManifestStore, Storage, TagStore, UploadStore } from "../storage/types.ts";

/** An optional capability of the storage contract. */
export type CapabilityName = "push" | "mount" | "delete" | "referrers" | "catalog" | "purge";

/** What an adapter provides, one flag per optional capability. */
export type StorageCapabilities = Record<CapabilityName, boolean>;

/** Every optional capability, in the order of the design table. */
export const CAPABILITY_NAMES: readonly CapabilityName[] = [
  "push",
  "mount",
  "delete",
  "referrers",
  "catalog",
  "purge",
];

/**
 * A storage adapter as the contract describes it: the required members (`blobs.stat`,
 * `blobs.read`, `manifests.get`, `tags.get`, `tags.list`) and, optionally, the members of each
 * capability it provides.
 */
export interface AdapterStorage {
  /** Blobs: `stat` and `read` required; `link` (mount) and `unlink` (delete) optional. */
  blobs: Pick<BlobStore, "stat" | "read"> & Partial<Pick<BlobStore, "link" | "unlink">>;
  /** Upload sessions (push); `purge` optional within them. */
  uploads?: Omit<UploadStore, "purge"> & Partial<Pick<UploadStore, "purge">>;
  /** Manifests: `get` required; `put` (push), `delete`, `referrers` optional. */
  manifests:
    & Pick<ManifestStore, "get">
    & Partial<Pick<ManifestStore, "put" | "delete" | "referrers">>;
  /** Tags: `get` and `list` required; `set` (push) and `delete` optional. */
  tags: Pick<TagStore, "get" | "list"> & Partial<Pick<TagStore, "set" | "delete">>;
  /** The catalog. */
  repositories?: Storage["repositories"];
  /** Release resources. */
  close?(): Promise<void>;
}

/** A storage with every optional member present. */
export interface FullStorage {
  /** Every blob member. */
  blobs: Required<Storage["blobs"]>;
  /** Every upload member, `purge` included. */
  uploads: Required<NonNullable<Storage["uploads"]>>;
  /** Every manifest member. */
  manifests: Required<Storage["manifests"]>;
  /** Every tag member. */
  tags: Required<Storage["tags"]>;
  /** The catalog. */
  repositories: NonNullable<Storage["repositories"]>;
  /** Release resources. */
  close?(): Promise<void>;
}

/** The members each capability covers, as `store.member` paths (`repositories`: the catalog). */
export const CAPABILITY_MEMBERS: Readonly<Record<CapabilityName, readonly string[]>> = {
  push: ["uploads", "manifests.put", "tags.set"],
  mount: ["blobs.link"],
  delete: ["manifests.delete", "tags.delete", "blobs.unlink"],
  referrers: ["manifests.referrers"],
  catalog: ["repositories"],
  purge: ["uploads.purge"],
};

/**
 * Whether `storage` has the member at `path` (`"uploads"`, `"blobs.link"`, …).
 *
 * @example
 * ```ts
 * hasMember(storage, "blobs.link"); // true when the adapter can mount
 * ```
 */
export function hasMember(storage: AdapterStorage, path: string): boolean {
  let value: unknown = storage;
  for (const key of path.split(".")) {
    if (value === undefined || value === null) return false;
    value = (value as Record<string, unknown>)[key];
  }
  return value !== undefined && value !== null;
}

/**
 * The optional capabilities `storage` provides. A capability whose members are only partly
 * present is a TypeError naming the missing member.
 *
 * @example
 * ```ts
 * capabilitiesOf(memoryStorage()).delete; // true
 * ```
 */
export function capabilitiesOf(storage: AdapterStorage): StorageCapabilities {
  const found = {} as StorageCapabilities;
  for (const name of CAPABILITY_NAMES) {
    const members = CAPABILITY_MEMBERS[name];
    const present = members.filter((member) => hasMember(storage, member));
    if (present.length > 0 && present.length < members.length) {
      const missing = members.find((member) => !hasMember(storage, member));
      throw new TypeError(
        `storage provides part of the ${name} capability: ${missing} is missing`,
      );
    }
    found[name] = present.length === members.length;
  }
  // The upload store's own members come with it, all or none.
  if (storage.uploads) {
    for (const member of ["create", "get", "append", "read", "commit", "cancel"]) {
      if (!hasMember(storage, `uploads.${member}`)) {
        throw new TypeError(
          `storage provides part of the push capability: uploads.${member} is missing`,
        );
      }
    }
  }
  return found;
}
