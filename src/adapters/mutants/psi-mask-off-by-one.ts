/**
 * Bug: a page-selective invalidation sizes its range with AM − 1, so it covers half the 2^AM
 * pages the guest asked for; the upper half keeps stale translations.
 * Breaks [VTD-CACHE-9] (an invalidation range is 2^AM pages) and with it [VTD-CACHE-6], [VTD-CACHE-7].
 */
import type { Mutant } from "./types.ts";
import { wrapCacheInvalidate } from "./wrap.ts";

export const psiMaskOffByOne: Mutant = {
  id: "psi-mask-off-by-one",
  title: "page-selective invalidation covers 2^(AM-1) pages instead of 2^AM",
  layer: "viommu",
  rules: ["VTD-CACHE-9", "VTD-CACHE-6"],
  hooks: {
    platform(vm) {
      wrapCacheInvalidate(vm.viommu.caches, (original, scope, mode) => {
        if ((scope.kind === "iotlb" || scope.kind === "pasid-iotlb") && scope.granularity === "page") {
          original({ ...scope, am: Math.max(0, scope.am - 1) }, mode);
        } else original(scope, mode);
      });
    },
  },
};
