/** What the CLI tests share: the real command, the test registry and the memory-model modules. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = join(ROOT, "bin", "iommu-conformance.js");
export const REGISTRY = "test/fixtures/harness/test-properties.ts";
export const BUGGY = "module:test/fixtures/harness/buggy-memory-module.ts";
export const HONEST = "module:test/fixtures/harness/memory-module.ts";

/** A finished command. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
