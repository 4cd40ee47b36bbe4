import { describe, expect, it } from "vitest";
import { invalidationForwarding } from "../../properties/invalidation-forwarding.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("invalidation-forwarding against the reference", () => {
  for (const cache of CACHE_CONFIGS) {
    it(`[VMM-INV-1] [VMM-INV-2] [VMM-INV-3] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(invalidationForwarding, { runs: 8, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }

  it("[VMM-INV-1] kills mutant:pasid-iotlb-not-forwarded", async () => {
    const model = await createMutantModel("pasid-iotlb-not-forwarded");
    try {
      const r = await runAgainst(invalidationForwarding, { runs: 60, model });
      expect(r.status, r.message).toBe("fail");
    } finally {
      await model.close();
    }
  }, 300_000);
});
