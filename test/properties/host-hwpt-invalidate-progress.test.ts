import { describe, expect, it } from "vitest";
import { hwptInvalidateProgress } from "../../properties/hwpt-invalidate-progress.ts";
import { createMutantModel } from "../../src/platform/mutants.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("hwpt-invalidate-progress against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[HOST-UAPI-60] [HOST-UAPI-62] [HOST-UAPI-63] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(hwptInvalidateProgress, { runs: 30, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }

  it("[HOST-UAPI-60] kills mutant:invalidate-entry-num-kept", async () => {
    const model = await createMutantModel("invalidate-entry-num-kept");
    try {
      const r = await runAgainst(hwptInvalidateProgress, { runs: 100, model });
      expect(r.status, r.message).toBe("fail");
    } finally {
      await model.close();
    }
  }, 300_000);
});
