import { describe, expect, it } from "vitest";
import { uapiExtensibility } from "../../properties/uapi-extensibility.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("uapi-extensibility against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[HOST-UAPI-3] [HOST-UAPI-5] [HOST-UAPI-70] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(uapiExtensibility, { runs: 60, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }

  it("[HOST-UAPI-3] kills mutant:struct-tail-accepted", async () => {
    const model = await createMutantModel("struct-tail-accepted");
    try {
      const r = await runAgainst(uapiExtensibility, { runs: 200, model });
      expect(r.status, r.message).toBe("fail");
    } finally {
      await model.close();
    }
  }, 300_000);
});
