/**
 * Bug: the walkers do not check paging-entry addresses against the host address width: bits
 * 51:HAW of an entry are not treated as reserved, so an entry pointing beyond HAW is followed
 * (the access then fails as a plain unsupported request) instead of faulting as reserved.
 * Breaks [VTD-FS-4] and [VTD-SS-4] (entry bits 51:HAW are reserved).
 */
import type { Mutant } from "./types.ts";

const FULL_WIDTH = 52;

export const hawUnchecked: Mutant = {
  id: "haw-unchecked",
  title: "host address width not checked in paging entries (bits 51:HAW not reserved)",
  layer: "viommu",
  rules: ["VTD-FS-4", "VTD-SS-4"],
  hooks: {
    platform(vm) {
      const t = vm.viommu.translator;
      const fs = t.walkFirstStage;
      const ss = t.walkSecondStage;
      t.walkFirstStage = (mem, p, ...rest) => fs(mem, { ...p, haw: FULL_WIDTH }, ...rest);
      t.walkSecondStage = (mem, p, ...rest) => ss(mem, { ...p, haw: FULL_WIDTH }, ...rest);
    },
  },
};
