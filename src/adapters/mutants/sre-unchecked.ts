/**
 * Bug: the PASID entry's SRE bit is decoded but never checked: supervisor requests translate
 * through an entry with SRE = 0 instead of faulting (SPT.6).
 * Breaks [VTD-PASID-7] (a supervisor request needs SRE = 1).
 */
import type { Mutant } from "./types.ts";

export const sreUnchecked: Mutant = {
  id: "sre-unchecked",
  title: "supervisor requests accepted through a PASID entry with SRE = 0",
  layer: "viommu",
  rules: ["VTD-PASID-7"],
  hooks: {
    platform(vm) {
      const caches = vm.viommu.caches;
      const fill = caches.fillPasid.bind(caches);
      // Every PASID entry the translator reads passes here (cached or not) before it is used.
      caches.fillPasid = (e) => {
        if (e.view !== undefined) e.view.sre = true;
        fill(e);
      };
    },
  },
};
