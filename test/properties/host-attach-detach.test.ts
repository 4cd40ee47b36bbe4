import { describe, expect, it } from "vitest";
import { attachDetach } from "../../properties/attach-detach.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("attach-detach against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[HOST-HWPT-34] [HOST-HWPT-36] [HOST-XLATE-11] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(attachDetach, { runs: 25, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});
