/**
 * Bug: the VMM offers 1 GiB first-stage pages (FS1GP) to the guest without checking that the host
 * IOMMU, which walks the guest's first stage for passed-through devices, supports them.
 * Breaks [VMM-COMPAT-5] (FS1GP offered needs host FS1GP).
 */
import { checkCompatibility } from "../../vmm/compatibility.ts";
import type { Mutant } from "./types.ts";

export const vmmFs1gpUnchecked: Mutant = {
  id: "vmm-fs1gp-unchecked",
  title: "VMM offers FS1GP without checking the host's",
  layer: "vmm",
  rules: ["VMM-COMPAT-5"],
  hooks: {
    compatibility: (viommu, sid, dev, iommu, info) =>
      checkCompatibility({ ...viommu, fs1gp: false }, sid, dev, iommu, info),
  },
};
