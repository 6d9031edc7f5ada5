import { memoryStorage } from "../lib/storage/memory.ts";
import { protocolSuite } from "./protocol_suite.ts";
import { storageContract } from "./storage_contract.ts";

storageContract("memory", () => memoryStorage());
protocolSuite("memory", () => memoryStorage());
