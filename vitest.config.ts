import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// Two projects: unit tests (test/) and the property suite (properties/).
// Properties run against the adapter named by IOMMU_ADAPTER (default: reference).
export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the cores: on a 2-core machine, one, and every
    // file would run in turn. The tests are CPU-bound and the main process idles: use them all.
    maxWorkers: availableParallelism(),
    projects: [
      // Generous timeout: some tests spawn the CLI or QEMU, slow on a loaded 2-core machine.
      { test: { name: "unit", include: ["test/**/*.test.ts"], testTimeout: 30_000 } },
      { test: { name: "properties", include: ["properties/**/*.prop.ts"], testTimeout: 120_000 } },
    ],
    coverage: { provider: "v8", include: ["src/**/*.ts"], reporter: ["text-summary", "json-summary"] },
  },
});
