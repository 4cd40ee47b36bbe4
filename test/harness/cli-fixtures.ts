/** What the CLI tests share: the real command, the test registry and the memory-model modules. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** This checkout: where the tests and their fixtures live, and the commands' working directory. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/**
 * The checkout under test: its command and its package files. This one, unless IOMMU_CLI_ROOT
 * names another (bench/fails-before.ts points it at an older commit's tree, to show these tests
 * failing there).
 */
export const CLI_ROOT = process.env.IOMMU_CLI_ROOT ?? ROOT;
export const BIN = join(CLI_ROOT, "bin", "iommu-conformance.js");
export const REGISTRY = "test/fixtures/harness/test-properties.ts";
export const BUGGY = "module:test/fixtures/harness/buggy-memory-module.ts";
export const HONEST = "module:test/fixtures/harness/memory-module.ts";

/** A finished command. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
