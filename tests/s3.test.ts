import { s3Storage } from "../lib/storage/s3.ts";
import { storageContract } from "./storage_contract.ts";
import { prepareS3, s3TestEnv, uniquePrefix } from "./support/s3_env.ts";

const env = s3TestEnv();
await prepareS3(env);
const run = uniquePrefix();
let n = 0;
storageContract("s3", () => s3Storage({ ...env, prefix: `${run}${n++}` }));
