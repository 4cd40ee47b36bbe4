/**
 * The near-miss generator (src/arbitraries/vmm-near-miss.ts): a covering host with one check
 * broken is refused by exactly that check, every check is broken in some share of the cases, and
 * "none" is accepted.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { referenceDescription } from "../../src/adapters/reference.ts";
import { hostSideArb } from "../../src/arbitraries/host-devices.ts";
import { anyViommuArb } from "../../src/arbitraries/vmm-config.ts";
import { NEAR_MISSES, nearMissArb } from "../../src/arbitraries/vmm-near-miss.ts";
import { expectedRefusal } from "../../src/cases/vmm-compat.ts";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { configProblems } from "../../src/contract/viommu-capabilities.ts";

describe("near-miss host capabilities", () => {
  it("[VMM-COMPAT-1] [VMM-COMPAT-5] [VMM-COMPAT-11] the broken check is the one that refuses; every check is reached", () => {
    const d = referenceDescription();
    const samples = fc.sample(nearMissArb(d, anyViommuArb(d), hostSideArb(["h0"])), {
      numRuns: 600,
      seed: 9,
    });
    const seen = new Map<string, number>();
    for (const c of samples) {
      expect(configProblems(c.viommu)).toEqual([]);
      const config: PlatformConfig = {
        viommu: c.viommu,
        devices: [{ sid: 0x10, kind: "passthrough", host: c.host }],
        memory: { size: 16n << 20n, regions: [{ gpa: 0n, size: 16n << 20n, readOnly: false }] },
        hostIommus: [c.iommu],
      };
      const refusal = expectedRefusal(config);
      expect(refusal?.check ?? "none").toBe(c.broken);
      seen.set(c.broken, (seen.get(c.broken) ?? 0) + 1);
    }
    for (const miss of NEAR_MISSES) expect(seen.get(miss) ?? 0, miss).toBeGreaterThan(10);
  });
});
