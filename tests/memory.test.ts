import { memoryStorage } from "../lib/storage/memory.ts";
import { protocolSuite } from "./protocol_suite.ts";

protocolSuite("memory", () => memoryStorage());
