/**
 * Bug: a global PASID-cache invalidation drops the vIOMMU's cached PASID entries but is not
 * propagated to the host: a passed-through device whose PASID entry the guest cleared stays
 * attached to its nested HWPT and keeps translating with that PASID.
 * Breaks [VMM-BIND-7] (global invalidations re-validate every slot) and [VMM-BIND-12].
 */
import type { Mutant } from "./types.ts";

export const pasidGlobalNoUnbind: Mutant = {
  id: "pasid-global-no-unbind",
  title: "global PASID-cache invalidation does not detach the host",
  layer: "vmm",
  rules: ["VMM-BIND-7", "VMM-BIND-12"],
  hooks: {
    platform(vm) {
      const binder = vm.binder;
      const original = binder.onInvalidate.bind(binder);
      binder.onInvalidate = (scope, mode) => {
        if (scope.kind === "pasid-cache" && scope.granularity === "global") return;
        original(scope, mode);
      };
    },
  },
};
