/**
 * Bug: a domain-selective IOTLB invalidation does not use the descriptor's DID: it flushes
 * domain 0 (the field read from the wrong place is always zero), so the named domain keeps
 * its cached translations.
 * Breaks [VTD-CACHE-6] (domain-selective: every entry tagged with that DID).
 */
import type { Mutant } from "./types.ts";
import { wrapCacheInvalidate } from "./wrap.ts";

export const domainInvDidIgnored: Mutant = {
  id: "domain-inv-did-ignored",
  title: "domain-selective IOTLB invalidation ignores the DID field (flushes domain 0)",
  layer: "viommu",
  rules: ["VTD-CACHE-6"],
  hooks: {
    platform(vm) {
      wrapCacheInvalidate(vm.viommu.caches, (original, scope, mode) => {
        original(
          scope.kind === "iotlb" && scope.granularity === "domain" ? { ...scope, did: 0 } : scope,
          mode,
        );
      });
    },
  },
};
