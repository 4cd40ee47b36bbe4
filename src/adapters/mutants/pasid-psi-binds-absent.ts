/**
 * Bug: on a PASID-selective PASID-cache invalidation the VMM binds the (DID, PASID) it found to
 * every passed-through device at that PASID, also those whose PASID entry is absent: they
 * translate that PASID through another device's first stage instead of being blocked.
 * Breaks [VMM-BIND-10] (a PASID-selective invalidation binds only what is present).
 */
import type { Mutant } from "./types.ts";

export const pasidPsiBindsAbsent: Mutant = {
  id: "pasid-psi-binds-absent",
  title: "PASID-selective PASID-cache invalidation binds devices whose entry is absent",
  layer: "vmm",
  rules: ["VMM-BIND-10"],
  hooks: {
    platform(vm) {
      const binder = vm.binder;
      const original = binder.onInvalidate.bind(binder);
      binder.onInvalidate = (scope, mode) => {
        original(scope, mode);
        if (scope.kind !== "pasid-cache" || scope.granularity !== "pasid") return;
        const attached = vm.hostView().attachments.filter((a) => a.pasid === scope.pasid);
        const found = attached.find((a) => a.kind === "nested");
        if (found === undefined) return;
        for (const d of vm.config.devices) {
          if (d.kind !== "passthrough" || attached.some((a) => a.sid === d.sid)) continue;
          const devId = vm.devIdOf(d.sid);
          if (devId !== undefined) vm.host.attach(devId, scope.pasid, found.hwptId, "attach");
        }
      };
    },
  },
};
