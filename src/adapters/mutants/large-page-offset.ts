/**
 * Bug: for a large page the offset is taken with the next-lower level's mask (a 2 MiB page
 * keeps only the 4 KiB offset, a 1 GiB page only the 2 MiB offset), so every address past the
 * first small page of a large page lands in the wrong place.
 * Breaks [VTD-FS-2] and [VTD-SS-2] (the output is the page frame plus the offset of the page's size).
 */
import type { PagingResult } from "../../paging/index.ts";
import type { Mutant } from "./types.ts";

function smallerOffset(r: PagingResult, lo: number): PagingResult {
  if (!r.ok || r.pageShift === 12) return r;
  const shift = r.pageShift - 9;
  return { ...r, pageShift: shift, addr: r.base + (lo & (2 ** shift - 1)) };
}

export const largePageOffset: Mutant = {
  id: "large-page-offset",
  title: "large-page offset computed with the next-lower level's mask",
  layer: "viommu",
  rules: ["VTD-FS-2", "VTD-SS-2"],
  hooks: {
    platform(vm) {
      const t = vm.viommu.translator;
      const fs = t.walkFirstStage;
      const ss = t.walkSecondStage;
      t.walkFirstStage = (mem, p, hi, lo, ...rest) => smallerOffset(fs(mem, p, hi, lo, ...rest), lo);
      t.walkSecondStage = (mem, p, hi, lo, ...rest) => smallerOffset(ss(mem, p, hi, lo, ...rest), lo);
    },
  },
};
