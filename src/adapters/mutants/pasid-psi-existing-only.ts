/**
 * Bug: a PASID-selective PASID-cache invalidation re-validates only PASIDs the host already has a
 * device attached at; a PASID entry the guest has just made present on every device is never
 * bound by it (only a wider invalidation binds it later), so DMA with it stays blocked.
 * Breaks [VMM-BIND-10] (a PASID-selective invalidation re-validates each device's slot for that
 * PASID when the new entry has that DID and PASID).
 */
import type { Mutant } from "./types.ts";

export const pasidPsiExistingOnly: Mutant = {
  id: "pasid-psi-existing-only",
  title: "PASID-selective PASID-cache invalidation updates only PASIDs already bound on the host",
  layer: "vmm",
  rules: ["VMM-BIND-10"],
  hooks: {
    platform(vm) {
      const binder = vm.binder;
      const original = binder.onInvalidate.bind(binder);
      binder.onInvalidate = (scope, mode) => {
        const selective = scope.kind === "pasid-cache" && scope.granularity === "pasid";
        if (selective && !vm.hostView().attachments.some((a) => (a.pasid ?? 0) === scope.pasid)) return;
        original(scope, mode);
      };
    },
  },
};
