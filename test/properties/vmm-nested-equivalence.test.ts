import { describe, expect, it } from "vitest";
import { nestedEquivalence } from "../../properties/nested-equivalence.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("nested-equivalence against the reference", () => {
  for (const cache of CACHE_CONFIGS) {
    it(`[VMM-S2-2] [VMM-S2-4] [HOST-XLATE-12] [HOST-XLATE-13] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(nestedEquivalence, { runs: 8, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});

describe("nested-equivalence finds a missing stage-2 walk", () => {
  it("[HOST-XLATE-12] kills mutant:fs-pointer-as-hpa", async () => {
    const model = await createMutantModel("fs-pointer-as-hpa");
    try {
      const r = await runAgainst(nestedEquivalence, { runs: 40, model });
      expect(r.status, r.message).toBe("fail");
    } finally {
      await model.close();
    }
  }, 300_000);
});
