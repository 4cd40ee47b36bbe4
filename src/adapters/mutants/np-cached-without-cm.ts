/**
 * Bug: the translator caches the context and PASID entries it read whatever their validity, as
 * if caching mode were on; with CM = 0 the guest need not invalidate after making an entry
 * present, so the device keeps faulting on the cached not-present entry.
 * Breaks [VTD-CACHE-1] and [VTD-CACHE-2] (faulting entries are cached only when CAP.CM = 1).
 */
import type { Mutant } from "./types.ts";

export const npCachedWithoutCm: Mutant = {
  id: "np-cached-without-cm",
  title: "not-present context/PASID entries cached with CM = 0",
  layer: "viommu",
  rules: ["VTD-CACHE-1", "VTD-CACHE-2"],
  hooks: {
    platform(vm) {
      vm.viommu.translator.mayCache = () => true;
    },
  },
};
