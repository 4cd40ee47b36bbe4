/**
 * Bug: the VMM does not compare the guest's address width with the host IOMMU's when a
 * passed-through device joins, so a vIOMMU wider than its host is built and the guest may map
 * IOVAs the host cannot translate.
 * Breaks [VMM-COMPAT-1] (aw-bits must not exceed the host's).
 */
import { checkCompatibility } from "../../vmm/compatibility.ts";
import type { Mutant } from "./types.ts";

export const vmmHostWidthUnchecked: Mutant = {
  id: "vmm-host-width-unchecked",
  title: "VMM accepts a host IOMMU narrower than the guest's aw-bits",
  layer: "vmm",
  rules: ["VMM-COMPAT-1"],
  hooks: {
    // Every other check still runs, in order: only the width comparison always passes.
    compatibility: (viommu, sid, dev, iommu, info) =>
      checkCompatibility({ ...viommu, awBits: 39 }, sid, dev, iommu, info),
  },
};
