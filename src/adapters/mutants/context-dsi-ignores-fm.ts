/**
 * Bug: a device-selective context-cache invalidation ignores the function mask and drops only
 * the exact source id, so the other functions FM covers keep their cached context entries.
 * Breaks [VTD-CACHE-5] (device-selective with FM masks the low devfn bits).
 */
import type { Mutant } from "./types.ts";
import { wrapCacheInvalidate } from "./wrap.ts";

export const contextDsiIgnoresFm: Mutant = {
  id: "context-dsi-ignores-fm",
  title: "device-selective context-cache invalidation ignores the function mask",
  layer: "viommu",
  rules: ["VTD-CACHE-5"],
  hooks: {
    platform(vm) {
      wrapCacheInvalidate(vm.viommu.caches, (original, scope, mode) => {
        original(
          scope.kind === "context" && scope.granularity === "device" ? { ...scope, fm: 0 } : scope,
          mode,
        );
      });
    },
  },
};
