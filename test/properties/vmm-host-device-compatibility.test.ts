import { describe, expect, it } from "vitest";
import { hostDeviceCompatibility } from "../../properties/host-device-compatibility.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { Model } from "../../src/contract/types.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("host-device-compatibility against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[VMM-COMPAT-1] [VMM-COMPAT-8] [VMM-COMPAT-11] [VMM-SHADOW-1] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(hostDeviceCompatibility, { runs: 150, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }

  it("[VMM-COMPAT-1] [VMM-COMPAT-5] finds a VMM that skips the width and FS1GP checks", async () => {
    // A VMM that believes every host IOMMU is 57 bits wide with 1 GiB stage-1 pages.
    const inner = await createReferenceModel();
    const model: Model = {
      ...inner,
      reset: (c) =>
        inner.reset({ ...c, hostIommus: c.hostIommus.map((h) => ({ ...h, awBits: 57, fs1gp: true })) }),
    };
    try {
      const r = await runAgainst(hostDeviceCompatibility, { runs: 300, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/accepted a device the (aw-bits|fs1gp) check must refuse/);
    } finally {
      await inner.close();
    }
  }, 300_000);
});
