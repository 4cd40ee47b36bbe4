/**
 * Bug: a domain-selective IOTLB invalidation drops the domain's IOTLB entries but not its
 * paging-structure-cache entries, so later walks start from stale non-leaf entries.
 * Breaks [VTD-CACHE-12] (IOTLB invalidations also invalidate the paging-structure caches) and [VTD-CACHE-6].
 */
import type { Mutant } from "./types.ts";
import { wrapCacheInvalidate } from "./wrap.ts";

export const domainInvKeepsPsc: Mutant = {
  id: "domain-inv-keeps-psc",
  title: "domain-selective IOTLB invalidation keeps the paging-structure caches",
  layer: "viommu",
  rules: ["VTD-CACHE-12", "VTD-CACHE-6"],
  hooks: {
    platform(vm) {
      const caches = vm.viommu.caches;
      wrapCacheInvalidate(caches, (original, scope, mode) => {
        if (scope.kind !== "iotlb" || scope.granularity !== "domain") return original(scope, mode);
        const kept = caches.entries().psc.filter((e) => e.did === scope.did);
        original(scope, mode);
        for (const e of kept) caches.fillPsc(e);
      });
    },
  },
};
