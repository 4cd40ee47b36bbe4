/**
 * Bug: a PASID-selective PASID-IOTLB invalidation (granularity 01b) is not forwarded to the
 * host's nested HWPT (only page-selective ones are), so a passed-through device keeps the
 * host IOTLB's stale first-stage translations.
 * Breaks [VMM-INV-1] (PASID-selective: a full flush of the nested HWPT).
 */
import type { Mutant } from "./types.ts";

export const pasidIotlbNotForwarded: Mutant = {
  id: "pasid-iotlb-not-forwarded",
  title: "PASID-selective PASID-IOTLB invalidation not forwarded to the nested HWPT",
  layer: "vmm",
  rules: ["VMM-INV-1"],
  hooks: {
    platform(vm) {
      const binder = vm.binder;
      const original = binder.onInvalidate.bind(binder);
      binder.onInvalidate = (scope, mode) => {
        if (scope.kind === "pasid-iotlb" && scope.granularity === "pasid") return;
        original(scope, mode);
      };
    },
  },
};
