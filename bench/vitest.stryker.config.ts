import { defineConfig } from "vitest/config";

// The property suite alone, as Stryker's killer (bench/stryker.ts): no unit test may kill a mutant.
export default defineConfig({
  test: {
    include: ["properties/**/*.prop.ts"],
    testTimeout: 300_000,
  },
});
