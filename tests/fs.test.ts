import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsStorage } from "../lib/storage/fs.ts";
import type { Storage } from "../lib/storage/types.ts";
import { protocolSuite } from "./protocol_suite.ts";
import { storageContract } from "./storage_contract.ts";

const roots = new WeakMap<Storage, string>();
function makeFs(): Storage {
  const root = mkdtempSync(join(tmpdir(), "fetch-registry-fs-"));
  const s = fsStorage({ root });
  roots.set(s, root);
  return s;
}
async function cleanup(s: Storage) {
  const root = roots.get(s);
  if (root) rmSync(root, { recursive: true, force: true });
}
storageContract("fs", makeFs, cleanup);
protocolSuite("fs", makeFs);
