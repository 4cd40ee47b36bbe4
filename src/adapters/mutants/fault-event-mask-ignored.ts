/**
 * Bug: the fault event is sent whatever FECTL.IM says, so IP is never held: a driver that masks
 * the fault event and polls FECTL.IP never sees a fault event pending.
 * Breaks [VTD-FAULT-9] (VT-d 5.10 §7.3 "If IM field is Set, the interrupt is not generated";
 * §11.4.7.2 "The IP field is kept Set by hardware while the interrupt message is held pending").
 */
import type { Mutant } from "./types.ts";

/** The fault recording's interrupt logic (private in the reference: this is where the bug goes in). */
interface EventLogic {
  ppf: boolean;
  pfo: boolean;
  iqe: boolean;
  eventsSent: number;
  signal(set: () => void): void;
}

export const faultEventMaskIgnored: Mutant = {
  id: "fault-event-mask-ignored",
  title: "the fault event is sent even while FECTL.IM masks it (IP never held)",
  layer: "viommu",
  rules: ["VTD-FAULT-9"],
  hooks: {
    platform(vm) {
      const f = vm.viommu.registers.faults as unknown as EventLogic;
      f.signal = (set) => {
        const outstanding = f.ppf || f.pfo || f.iqe;
        set();
        if (!outstanding) f.eventsSent++;
      };
    },
  },
};
