import { defineConfig } from "vitest/config";

// Two projects: unit tests (test/) and the property suite (properties/).
// Properties run against the adapter named by IOMMU_ADAPTER (default: reference).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/**/*.test.ts"] } },
      { test: { name: "properties", include: ["properties/**/*.prop.ts"], testTimeout: 120_000 } },
    ],
    coverage: { provider: "v8", include: ["src/**/*.ts"], reporter: ["text-summary", "json-summary"] },
  },
});
