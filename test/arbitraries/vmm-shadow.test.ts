/**
 * The shadow VM generator (src/arbitraries/vmm-shadow.ts): every configuration is one the VMM must
 * accept and whose passed-through devices it must shadow, and the reference VMM builds it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { referenceDescription } from "../../src/adapters/reference.ts";
import { shadowPlatformArb, shadowProblem } from "../../src/arbitraries/vmm-shadow.ts";
import { expectedRefusal } from "../../src/cases/vmm-compat.ts";
import { configProblems } from "../../src/contract/viommu-capabilities.ts";
import { VmPlatform } from "../../src/vmm/platform.ts";

describe("shadow VM generator", () => {
  it("[VMM-SHADOW-1] [VMM-COMPAT-2] [VMM-SHADOW-2] configurations are valid, accepted, and shadow-only", () => {
    const d = referenceDescription();
    expect(shadowProblem(d)).toBeNull();
    const samples = fc.sample(shadowPlatformArb(d), { numRuns: 60, seed: 5 });
    const modes = new Set<boolean>();
    for (const c of samples) {
      expect(configProblems(c.viommu)).toEqual([]);
      expect(c.viommu.cachingMode).toBe(true);
      expect(c.viommu.firstStage).toBe(false);
      expect(expectedRefusal(c)).toBeUndefined();
      expect(c.devices.some((x) => x.kind === "passthrough")).toBe(true);
      expect(c.devices.some((x) => x.kind === "emulated")).toBe(true);
      expect(() => new VmPlatform(c)).not.toThrow();
      modes.add(c.viommu.scalable);
    }
    expect(modes.size).toBe(2);
  });
});
