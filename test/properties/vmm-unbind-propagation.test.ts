import { describe, expect, it } from "vitest";
import { unbindPropagation } from "../../properties/unbind-propagation.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("unbind-propagation against the reference", () => {
  for (const cache of CACHE_CONFIGS) {
    it(`[VMM-BIND-7] [VMM-BIND-10] [VMM-BIND-12] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(unbindPropagation, { runs: 8, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});

describe("unbind-propagation finds the VMM's unbind bugs", () => {
  for (const id of ["pasid-global-no-unbind", "pasid-psi-binds-absent", "pasid-psi-existing-only"]) {
    it(`[VMM-BIND-7] [VMM-BIND-10] kills mutant:${id}`, async () => {
      const model = await createMutantModel(id);
      try {
        const r = await runAgainst(unbindPropagation, { runs: 60, model });
        expect(r.status, r.message).toBe("fail");
      } finally {
        await model.close();
      }
    }, 300_000);
  }
});
