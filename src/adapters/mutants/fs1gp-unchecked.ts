/**
 * Bug: the first-stage walker accepts PS = 1 in a PDPE (a 1 GiB page) although CAP.FS1GP = 0,
 * where the bit is reserved and the walk must fault (SFS.3).
 * Breaks [VTD-FS-4] (PS in a PDPE is reserved without FS1GP).
 */
import type { Mutant } from "./types.ts";

export const fs1gpUnchecked: Mutant = {
  id: "fs1gp-unchecked",
  title: "first-stage 1 GiB pages accepted without CAP.FS1GP",
  layer: "viommu",
  rules: ["VTD-FS-4"],
  hooks: {
    platform(vm) {
      const t = vm.viommu.translator;
      const fs = t.walkFirstStage;
      const nested = t.walkNested;
      t.walkFirstStage = (mem, p, ...rest) => fs(mem, { ...p, fs1gp: true }, ...rest);
      t.walkNested = (mem, p, ...rest) => nested(mem, { ...p, fs: { ...p.fs, fs1gp: true } }, ...rest);
    },
  },
};
