import { defineConfig } from "vitest/config";

// Two projects: unit tests (test/) and the property suite (properties/).
// Properties run against the adapter named by IOMMU_ADAPTER (default: reference).
export default defineConfig({
  test: {
    projects: [
      // Generous timeout: some tests spawn the CLI or QEMU, slow on a loaded 2-core machine.
      { test: { name: "unit", include: ["test/**/*.test.ts"], testTimeout: 30_000 } },
      { test: { name: "properties", include: ["properties/**/*.prop.ts"], testTimeout: 120_000 } },
    ],
    coverage: { provider: "v8", include: ["src/**/*.ts"], reporter: ["text-summary", "json-summary"] },
  },
});
